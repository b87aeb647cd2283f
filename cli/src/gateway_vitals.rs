//! Numerics beside the ECG for the gateway simulator (issue 18): the samples of a WFDB
//! numerics record (`vitals_record`) or a generated course (`vitals_profile`) as numerics
//! frames on the stream's own timeline, so `gateway.rs` interleaves them with the sample
//! frames on one connection and one sequence counter (ingest keeps one counter per
//! device, docs/ingest-protocol.md).

use crate::vitals_profile::{ProfileGenerator, VitalsProfile};
use crate::vitals_record::items_at;
use anyhow::{Context, bail};
use cw_core::VitalReading;
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_protocol::NumericsFrame;
use cw_protocol::numerics::Item;
use std::path::PathBuf;
use std::time::Duration;

/// Where the numerics come from.
#[derive(Clone, Debug)]
pub enum VitalsSource {
    /// The WFDB numerics record (header path without `.hea`), e.g. `testdata/vitals/…`,
    /// or `embedded:vitals/s00001` for the one built into the binary.
    Record(PathBuf),
    /// A generated course, one reading of each kind a second, its jitter drawn from
    /// `seed` (the same seed, the same numbers).
    Profile { profile: VitalsProfile, seed: u64 },
}

#[derive(Clone, Debug)]
pub struct VitalsOptions {
    pub source: VitalsSource,
    /// Stream seconds between consecutive samples of the source; None: the source's own
    /// interval (60 s for one-minute numerics, 1 s for a profile). Less compresses its
    /// time (a demo, a test).
    pub step_s: Option<f64>,
    /// Start at this many seconds of the source's own time.
    pub offset_s: f64,
}

impl VitalsOptions {
    /// The same options for the `index`-th patient of a fleet: a profile's seed differs
    /// per patient, so a thousand patients do not move in lockstep.
    pub fn for_patient(&self, index: usize) -> Self {
        let mut out = self.clone();
        if let VitalsSource::Profile { seed, .. } = &mut out.source {
            *seed = seed.wrapping_add(index as u64);
        }
        out
    }
}

/// The numerics options of `cardiowatch gateway` and `cardiowatch backtest`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct VitalsArgs {
    /// Numerics beside the ECG from this WFDB numerics record (path without extension),
    /// e.g. testdata/vitals/s00001-2896-10-10-00-31n.
    #[arg(long, group = "vitals_source")]
    pub vitals: Option<PathBuf>,
    /// Generated numerics beside the ECG, one reading of each kind a second
    /// (docs/vitals.md, "Generated profiles").
    #[arg(long, value_enum, group = "vitals_source")]
    pub vitals_profile: Option<VitalsProfile>,
    /// Seed of the profile's jitter (the same seed, the same numbers); with
    /// --tokens-file the n-th patient uses seed + n.
    #[arg(long, requires = "vitals_profile", default_value_t = 1)]
    pub vitals_seed: u64,
    /// Stream seconds between consecutive numerics samples (default: the source's own
    /// interval; 1 plays a minute-by-minute record a minute per second).
    #[arg(long, requires = "vitals_source")]
    pub vitals_step_s: Option<f64>,
    /// Start this many seconds into the numerics source's own time.
    #[arg(long, requires = "vitals_source", default_value_t = 0.0)]
    pub vitals_offset_s: f64,
}

impl VitalsArgs {
    /// The numerics to send beside the ECG, if any.
    pub fn options(&self) -> Option<VitalsOptions> {
        let source = match (&self.vitals, self.vitals_profile) {
            (Some(record), _) => VitalsSource::Record(record.clone()),
            (None, Some(profile)) => VitalsSource::Profile {
                profile,
                seed: self.vitals_seed,
            },
            (None, None) => return None,
        };
        Some(VitalsOptions {
            source,
            step_s: self.vitals_step_s,
            offset_s: self.vitals_offset_s,
        })
    }
}

/// One numerics frame to send once its readings exist: `due` after the stream started
/// (at `speed`), with every item at `start_ns` (the frame's `seq` is set when sent).
pub struct DueNumerics {
    pub due: Duration,
    pub frame: NumericsFrame,
}

/// A source's samples one by one: (the source's interval in seconds, the items of sample
/// `i`, None past its end).
trait Samples {
    fn interval_s(&self) -> f64;
    fn items(&mut self, index: usize) -> Option<Vec<Item>>;
}

struct RecordSamples(cw_wfdb::Record);

impl Samples for RecordSamples {
    fn interval_s(&self) -> f64 {
        1.0 / self.0.fs
    }
    fn items(&mut self, index: usize) -> Option<Vec<Item>> {
        (index < self.0.len()).then(|| items_at(&self.0, index))
    }
}

/// A profile generates without end; it is drawn in order (its jitter is a sequence), so
/// an offset skips by generating.
struct ProfileSamples {
    generator: ProfileGenerator,
    next: usize,
}

impl Samples for ProfileSamples {
    fn interval_s(&self) -> f64 {
        1.0
    }
    fn items(&mut self, index: usize) -> Option<Vec<Item>> {
        while self.next < index {
            self.generator.items_at(self.next as u64);
            self.next += 1;
        }
        self.next = index + 1;
        Some(self.generator.items_at(index as u64))
    }
}

fn open(source: &VitalsSource) -> anyhow::Result<Box<dyn Samples>> {
    Ok(match source {
        VitalsSource::Record(path) => {
            let record = crate::embedded_record::open_vitals(path)
                .with_context(|| format!("reading numerics record {}", path.display()))?;
            if !(record.fs > 0.0 && record.fs.is_finite()) {
                bail!(
                    "numerics record {} has no sampling frequency",
                    path.display()
                );
            }
            Box::new(RecordSamples(record))
        }
        VitalsSource::Profile { profile, seed } => Box::new(ProfileSamples {
            generator: ProfileGenerator::new(*profile, *seed),
            next: 0,
        }),
    })
}

/// The numerics frames of the stream that starts at `start_ns` and covers `duration_s`
/// of sample time, sent at `speed`. Samples with nothing to send (a cuff-only signal's
/// empty minutes) send no frame.
pub fn numerics_frames(
    opts: &VitalsOptions,
    start_ns: Nanos,
    duration_s: f64,
    speed: f64,
) -> anyhow::Result<Vec<DueNumerics>> {
    let mut samples = open(&opts.source)?;
    let interval_s = samples.interval_s();
    let step_s = opts.step_s.unwrap_or(interval_s);
    if !(step_s > 0.0 && step_s.is_finite()) {
        bail!("--vitals-step-s must be a positive number");
    }
    let first = (opts.offset_s.max(0.0) / interval_s) as usize;
    let mut out = Vec::new();
    for i in 0.. {
        let at_s = i as f64 * step_s;
        if at_s >= duration_s {
            break;
        }
        let Some(numerics) = samples.items(first + i) else {
            break;
        };
        if numerics.is_empty() {
            continue;
        }
        out.push(DueNumerics {
            due: Duration::from_secs_f64(at_s / speed),
            frame: NumericsFrame {
                seq: 0,
                start_ns: start_ns + (at_s * NANOS_PER_SEC as f64) as Nanos,
                numerics,
            },
        });
    }
    Ok(out)
}

/// The numerics of `duration_s` from `start_ns` as the readings ingest would store (a
/// backtest replays them beside a record's ECG).
pub fn readings(
    opts: &VitalsOptions,
    start_ns: Nanos,
    duration_s: f64,
) -> anyhow::Result<Vec<VitalReading>> {
    Ok(numerics_frames(opts, start_ns, duration_s, 1.0)?
        .into_iter()
        .flat_map(|due| {
            let start_ns = due.frame.start_ns;
            due.frame.numerics.into_iter().map(move |it| VitalReading {
                time_ns: start_ns + i64::from(it.offset_ms) * 1_000_000,
                kind: it.kind,
                site: it.site,
                status: it.status,
                value: it.value,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_icu_record_compressed_to_a_second_a_minute_gives_one_frame_a_second() {
        let opts = VitalsOptions {
            source: VitalsSource::Record(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../testdata/vitals/s00001-2896-10-10-00-31n"),
            ),
            step_s: Some(1.0),
            offset_s: 1375.0 * 60.0,
        };
        let frames = numerics_frames(&opts, 1_000, 10.0, 2.0).expect("reads");
        assert_eq!(frames.len(), 10);
        assert_eq!(frames[3].due, Duration::from_millis(1500));
        assert_eq!(frames[3].frame.start_ns, 1_000 + 3 * NANOS_PER_SEC);
        // Minute 1382 is the first of 20 with the SpO2 probe off.
        let spo2 = |f: &DueNumerics| {
            f.frame
                .numerics
                .iter()
                .find(|it| it.kind == cw_core::VitalKind::Spo2)
                .map(|it| it.status)
        };
        assert_eq!(spo2(&frames[6]), Some(cw_core::VitalStatus::Valid));
        assert_eq!(spo2(&frames[7]), Some(cw_core::VitalStatus::SensorOff));
    }

    #[test]
    fn a_profile_streams_a_frame_a_second_and_the_same_seed_the_same_numbers() {
        let opts = VitalsOptions {
            source: VitalsSource::Profile {
                profile: VitalsProfile::Desaturation,
                seed: 42,
            },
            step_s: None,
            offset_s: 30.0,
        };
        let frames = numerics_frames(&opts, 0, 120.0, 1.0).expect("generates");
        assert_eq!(frames.len(), 120);
        assert_eq!(frames[1].frame.start_ns, NANOS_PER_SEC);
        let again = numerics_frames(&opts, 0, 120.0, 1.0).expect("generates");
        assert!(
            frames
                .iter()
                .zip(&again)
                .all(|(a, b)| a.frame.numerics == b.frame.numerics)
        );
        // The offset starts 30 s into the course: it falls from the course's 60 s.
        let spo2 = |f: &DueNumerics| {
            f.frame
                .numerics
                .iter()
                .find(|it| it.kind == cw_core::VitalKind::Spo2)
                .and_then(|it| it.value)
                .expect("an SpO2 reading")
        };
        assert!(spo2(&frames[20]) >= 96.0);
        assert!(spo2(&frames[100]) < 90.0);
        let other = opts.for_patient(1);
        let theirs = numerics_frames(&other, 0, 120.0, 1.0).expect("generates");
        assert_ne!(frames[0].frame.numerics, theirs[0].frame.numerics);
    }
}
