//! EC57-style performance figures for cardiowatch, the one source of truth for how the
//! product is scored against annotated records (method: `docs/clinical-performance.md`).
//!
//! - [`aami`]: MIT-BIH beat labels → AAMI classes N, S, V, F, Q.
//! - [`reference`]: what the cardiologists annotated: beats, rhythm episodes, VF markers.
//! - [`matching`]: beat-by-beat comparison (150 ms window) into EC57's confusion matrix;
//!   QRS, VEB and SVEB sensitivity and positive predictivity.
//! - [`arrest`]: when a VF/VFL episode needs an alarm of its own, and when the one
//!   sounding since the arrest began is it.
//! - [`episodes`]: episode and duration sensitivity / positive predictivity (EC38 / EC57).
//! - [`alarms`]: each alarm judged true or false against the reference; false alarms per
//!   hour and onset-to-alarm delay per rule.
//! - [`false_alarms`]: each false clinical alarm and where it fell (noise alarm, noise).
//! - [`noise_stress`]: NSTDB noise added at a signal-to-noise ratio (`nst`'s protocol).
//! - [`record`]: all of that for one record, and the gross (sums of counts).
//! - [`report`]: EC57's table layout, per record and gross.
//!
//! Pure: callers read the records and run the analysis; this crate only compares.

pub mod aami;
pub mod alarms;
pub mod arrest;
pub mod episodes;
pub mod false_alarms;
pub mod matching;
pub mod noise_stress;
pub mod record;
pub mod reference;
pub mod report;

pub use aami::AamiClass;
pub use alarms::{Alarm, AlarmKind, AlarmScore, Ectopy, Limits, RuleDelays, Verdict};
pub use episodes::{EpisodeScore, Interval, Matching};
pub use matching::{BeatMatrix, Counts, MATCH_WINDOW_S, SCORE_FROM_S, TestBeat, qrs_counts};
pub use record::{Gross, RecordResult};
pub use reference::{RefBeat, Reference, Rhythm, RhythmEpisode, beat_samples};
pub use report::render;
