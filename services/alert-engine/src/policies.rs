//! Which policy applies to which patient, and which alerts are open: the engine's view of
//! the record store, rebuilt at start and refreshed on config changes.

use cw_core::{AlertId, Episode, PatientId, RuleKind, ThresholdPolicy};
use std::collections::HashMap;

#[derive(Default)]
pub struct EngineView {
    pub policies: HashMap<PatientId, ThresholdPolicy>,
    /// Open alert per (patient, rule): resolved by this engine when the rule clears.
    pub open: HashMap<(PatientId, RuleKind), AlertId>,
    /// Their episodes as stored, so a restarted monitor counts on from them.
    pub episodes: HashMap<(PatientId, RuleKind), Episode>,
}

impl EngineView {
    pub fn policy_for(&self, patient: &PatientId) -> ThresholdPolicy {
        self.policies
            .get(patient)
            .cloned()
            .unwrap_or_else(|| ThresholdPolicy::empty(patient.clone()))
    }
}
