//! VitalStore behaviours (numerics beside the ECG).

use crate::fixtures::{T0, device_id, patient_id};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{PatientId, Site, VitalBatch, VitalKind, VitalReading, VitalStatus};
use cw_storage::Stores;

fn valid(time_ns: Nanos, kind: VitalKind, site: Site, value: f32) -> VitalReading {
    VitalReading {
        time_ns,
        kind,
        site,
        status: VitalStatus::Valid,
        value: Some(value),
    }
}

fn batch(patient: &PatientId, seq: u64, readings: Vec<VitalReading>) -> VitalBatch {
    VitalBatch {
        patient: patient.clone(),
        device: device_id(),
        seq,
        readings,
    }
}

pub async fn readings_and_statuses_round_trip_in_time_order(s: &Stores) {
    let p = patient_id();
    let t1 = T0 + NANOS_PER_SEC;
    let readings = vec![
        valid(t1, VitalKind::Spo2, Site::Unspecified, 96.5),
        valid(T0, VitalKind::Systolic, Site::Arterial, 121.0),
        valid(T0, VitalKind::Systolic, Site::Cuff, 118.0),
        valid(T0, VitalKind::Temperature, Site::Core, 37.25),
        VitalReading {
            time_ns: T0,
            kind: VitalKind::Spo2,
            site: Site::Unspecified,
            status: VitalStatus::SensorOff,
            value: None,
        },
        VitalReading {
            time_ns: t1,
            kind: VitalKind::RespirationRate,
            site: Site::Unspecified,
            status: VitalStatus::Unreliable,
            value: None,
        },
        valid(t1, VitalKind::Fall, Site::Unspecified, 1.0),
    ];
    s.samples
        .write_vitals(&[batch(&p, 1, readings.clone())])
        .await
        .expect("write");
    let mut want = readings;
    want.sort_by_key(|r| (r.time_ns, r.kind, r.site));
    assert_eq!(s.samples.vitals(&p, T0, t1 + 1).await.expect("read"), want);
}

pub async fn a_resent_reading_overwrites_and_a_later_status_drops_the_value(s: &Stores) {
    let p = patient_id();
    let first = valid(T0, VitalKind::PulseRate, Site::Unspecified, 72.0);
    s.samples
        .write_vitals(&[batch(&p, 1, vec![first])])
        .await
        .expect("write");
    s.samples
        .write_vitals(&[batch(&p, 1, vec![first]), batch(&p, 1, vec![first])])
        .await
        .expect("resend");
    assert_eq!(
        s.samples.vitals(&p, T0, T0 + 1).await.expect("read"),
        vec![first]
    );
    // The same key rewritten as a status: no number survives beside it.
    let off = VitalReading {
        status: VitalStatus::SensorOff,
        value: None,
        ..first
    };
    s.samples
        .write_vitals(&[batch(&p, 2, vec![off])])
        .await
        .expect("rewrite");
    assert_eq!(
        s.samples.vitals(&p, T0, T0 + 1).await.expect("read"),
        vec![off]
    );
}

pub async fn vitals_respect_the_half_open_range_and_the_patient(s: &Stores) {
    let (p, other) = (patient_id(), patient_id());
    let at = |k: i64| T0 + k * NANOS_PER_SEC;
    let mine: Vec<VitalReading> = (0..5)
        .map(|k| {
            valid(
                at(k),
                VitalKind::RespirationRate,
                Site::Unspecified,
                12.0 + k as f32,
            )
        })
        .collect();
    s.samples
        .write_vitals(&[
            batch(&p, 1, mine.clone()),
            batch(
                &other,
                1,
                vec![valid(
                    at(2),
                    VitalKind::RespirationRate,
                    Site::Unspecified,
                    30.0,
                )],
            ),
        ])
        .await
        .expect("write");
    assert_eq!(
        s.samples.vitals(&p, at(1), at(3)).await.expect("read"),
        mine[1..3].to_vec()
    );
    assert_eq!(
        s.samples
            .vitals(&p, at(1) + 1, at(3) + 1)
            .await
            .expect("read"),
        mine[2..4].to_vec()
    );
    assert!(
        s.samples
            .vitals(&p, at(3), at(3))
            .await
            .expect("empty")
            .is_empty()
    );
    assert!(
        s.samples
            .vitals(&p, at(4), at(1))
            .await
            .expect("inverted")
            .is_empty()
    );
    assert_eq!(
        s.samples
            .vitals(&other, T0, at(9))
            .await
            .expect("other")
            .len(),
        1
    );
}

/// More readings than one query page holds, with several at each instant, so a page
/// boundary falls inside an instant (InfluxDB pages by time).
pub async fn many_readings_read_back_whole_across_pages(s: &Stores) {
    let p = patient_id();
    let kinds = [
        VitalKind::Spo2,
        VitalKind::PulseRate,
        VitalKind::RespirationRate,
    ];
    let readings: Vec<VitalReading> = (0..3_501i64)
        .flat_map(|k| {
            kinds.map(|kind| {
                valid(
                    T0 + k * NANOS_PER_SEC,
                    kind,
                    Site::Unspecified,
                    50.0 + (k % 40) as f32,
                )
            })
        })
        .collect();
    s.samples
        .write_vitals(&[batch(&p, 1, readings.clone())])
        .await
        .expect("write");
    let back = s
        .samples
        .vitals(&p, T0, T0 + 4_000 * NANOS_PER_SEC)
        .await
        .expect("read");
    assert_eq!(back.len(), readings.len());
    assert_eq!(back, readings);
}
