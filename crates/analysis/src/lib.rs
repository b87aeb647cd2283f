//! cardiowatch clinical analysis: one home for the logic that turns a patient's ECG into
//! alarm decisions (docs/clinical-performance.md). Pure, no I/O: the alert-engine service wires it to the
//! bus and the stores, and the api and CLI replay stored or recorded ECG through the very
//! same code (`backtest`).
//!
//! beats, their classes and quality windows (`cw_detect`) → rate ([`rate`]), runs
//! ([`rhythm`]), AF on the intervals between conducted beats ([`af`], with [`ectopy`]
//! undone first), ventricular runs
//! ([`ventricular`]) and ectopy patterns ([`ventricular_ectopy`]); fast VT the detector
//! under-counts, and VT or VF where it flags flutter, from the signal's own rhythm
//! ([`fast_activity`]) → each rule of the policy ([`rule_bank`]) → one
//! lifecycle state machine per rule ([`condition_state`]) → [`monitor::RuleEvent`]s.
//!
//! Vital-sign numerics: the latest valid value of each ([`latest_vitals`]) and the NEWS2
//! early warning score ([`news2`], docs/vitals.md).

pub mod backtest;
pub mod condition_state;
pub mod fast_activity;
pub mod hr_trend;
pub mod latest_vitals;
mod measurement_policy;
pub mod monitor;
pub mod monitoring_summary;
pub mod news2;
pub mod news2_escalation;
pub mod strip_beats;
pub mod vital_alarms;
pub mod vital_rules;

mod af;
mod ectopy;
mod learning;
mod noise_gate;
mod rate;
mod rhythm;
mod rule_bank;
mod ventricular;
mod ventricular_ectopy;

pub use measurement_policy::measurement_policy;
pub use monitor::{PatientMonitor, RuleEvent};
