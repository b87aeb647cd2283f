//! A WFDB numerics record (one value per signal per minute, e.g. `testdata/vitals`) as the
//! numerics a gateway sends: each signal named by its description becomes a vital kind and
//! site, and each value a reading or a sensor status (docs/ingest-protocol.md, "Numerics").
//!
//! What a real monitor's numerics contain decides the mapping: a 0 is a sensor that gave
//! nothing (probe off, line disconnected) and is sent as `sensor_off`, never as a
//! reading; -32768 in a cuff signal is a minute without a cuff measurement and sends
//! nothing; a value outside the kind's plausible range is the sensor's nonsense, sent as
//! `unreliable`. Signals with no numerics kind (the ECG's HR) are left out.

use cw_core::{Site, VitalKind, VitalStatus};
use cw_protocol::numerics::Item;
use cw_wfdb::Record;

/// The kind and site a signal description stands for (MIMIC numerics names).
pub fn kind_of(description: &str) -> Option<(VitalKind, Site)> {
    Some(match description {
        "SpO2" | "%SpO2" => (VitalKind::Spo2, Site::Unspecified),
        "PULSE" => (VitalKind::PulseRate, Site::Unspecified),
        "RESP" => (VitalKind::RespirationRate, Site::Unspecified),
        "TEMP" | "Temp" => (VitalKind::Temperature, Site::Unspecified),
        "ABPSys" | "ABP Sys" => (VitalKind::Systolic, Site::Arterial),
        "ABPDias" | "ABP Dias" => (VitalKind::Diastolic, Site::Arterial),
        "ABPMean" | "ABP Mean" => (VitalKind::MeanBp, Site::Arterial),
        "NBPSys" | "NBP Sys" => (VitalKind::Systolic, Site::Cuff),
        "NBPDias" | "NBP Dias" => (VitalKind::Diastolic, Site::Cuff),
        "NBPMean" | "NBP Mean" => (VitalKind::MeanBp, Site::Cuff),
        _ => return None,
    })
}

/// The raw value WFDB uses for "no sample".
const NO_SAMPLE: i32 = -32768;

/// The items of sample `index` (one per mapped signal that has a value then), with
/// `offset_ms` 0: the caller places them in time.
pub fn items_at(record: &Record, index: usize) -> Vec<Item> {
    let mut out = Vec::new();
    for (signal, info) in record.signals.iter().enumerate() {
        let Some((kind, site)) = kind_of(&info.description) else {
            continue;
        };
        let Some(&adu) = record.adu(signal).get(index) else {
            continue;
        };
        if adu == NO_SAMPLE {
            continue;
        }
        let value = (f64::from(adu) - f64::from(info.baseline)) / info.gain.max(f64::MIN_POSITIVE);
        let value = value as f32;
        let p = kind.plausible();
        let status = if value == 0.0 {
            VitalStatus::SensorOff
        } else if (p.min..=p.max).contains(&value) && (!p.whole || value.fract() == 0.0) {
            VitalStatus::Valid
        } else {
            VitalStatus::Unreliable
        };
        out.push(Item {
            kind,
            site,
            status,
            offset_ms: 0,
            value: (status == VitalStatus::Valid).then_some(value),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn record() -> Record {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/vitals/s00001-2896-10-10-00-31n");
        Record::open(path).expect("the numerics record reads")
    }

    fn count(record: &Record, kind: VitalKind, site: Site, status: VitalStatus) -> usize {
        (0..record.len())
            .flat_map(|i| items_at(record, i))
            .filter(|it| it.kind == kind && it.site == site && it.status == status)
            .count()
    }

    #[test]
    fn the_icu_record_gives_readings_and_sensor_off_statuses_as_documented() {
        let r = record();
        assert_eq!(r.len(), 1936, "32 h of minutes");
        // testdata/vitals/README.md: 363 minutes of SpO2 read 0 (probe off).
        let spo2_off = count(
            &r,
            VitalKind::Spo2,
            Site::Unspecified,
            VitalStatus::SensorOff,
        );
        let spo2_ok = count(&r, VitalKind::Spo2, Site::Unspecified, VitalStatus::Valid);
        assert_eq!((spo2_off, spo2_ok), (363, 1936 - 363));
        // 152 cuff measurements, every other minute sends no cuff item at all.
        assert_eq!(
            (0..r.len())
                .flat_map(|i| items_at(&r, i))
                .filter(|it| it.kind == VitalKind::Systolic && it.site == Site::Cuff)
                .count(),
            152
        );
        // The arterial line is disconnected nearly all the time: a status, no reading.
        assert!(
            count(
                &r,
                VitalKind::Systolic,
                Site::Arterial,
                VitalStatus::SensorOff
            ) > 1900
        );
        // Respiration: 0 is sensor off; nothing read as a reading is outside its range.
        assert_eq!(
            count(
                &r,
                VitalKind::RespirationRate,
                Site::Unspecified,
                VitalStatus::SensorOff
            ),
            45
        );
        for it in (0..r.len()).flat_map(|i| items_at(&r, i)) {
            if let Some(v) = it.value {
                let p = it.kind.plausible();
                assert!((p.min..=p.max).contains(&v), "{it:?}");
            }
        }
    }

    #[test]
    fn the_ecg_heart_rate_is_not_a_numerics_kind() {
        assert_eq!(kind_of("HR"), None);
        assert_eq!(kind_of("NBPMean"), Some((VitalKind::MeanBp, Site::Cuff)));
    }
}
