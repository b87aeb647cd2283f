//! The self-watchdog's probe through an alert-engine (docs/architecture.md, "Shards",
//! "The watchdog's probe"). A notifier asks for a round for its synthetic patient; the
//! engine holding that patient's shard lease sees the request in its lease round, opens
//! the round's alert through its fenced alert path and records which alert it opened;
//! the notifier then waits for that alert's in-app delivery. One row per synthetic
//! patient, replaced each round, so the table never grows beyond one row per notifier
//! identity.

use crate::ports::Result;
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{AlertId, PatientId};

/// One synthetic patient's latest round as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchdogProbe {
    pub patient: PatientId,
    /// When the notifier asked for the round; names the round.
    pub requested_ns: Nanos,
    /// The round is answered only before this: an engine that sees it later (one that
    /// was down, say) leaves it, so no synthetic alert opens that nobody waits for.
    pub until_ns: Nanos,
    /// The alert the engine opened for the round; `None` while no engine answered.
    pub alert: Option<AlertId>,
}

/// The notifier's half: asking for a round and reading its answer.
#[async_trait]
pub trait ProbeRequests: Send + Sync {
    /// Asks for a new round for `patient`, replacing its previous one (answered or not).
    async fn request_probe(
        &self,
        patient: &PatientId,
        requested_ns: Nanos,
        until_ns: Nanos,
    ) -> Result<()>;

    /// The patient's latest round, or `None` when it never asked.
    async fn probe(&self, patient: &PatientId) -> Result<Option<WatchdogProbe>>;
}

/// The alert-engine's half: the rounds waiting for an engine, and answering one.
#[async_trait]
pub trait ProbeAnswers: Send + Sync {
    /// Rounds not answered yet whose `until_ns` is after `now`, by patient.
    async fn pending_probes(&self, now: Nanos) -> Result<Vec<WatchdogProbe>>;

    /// Records `alert` as the answer of `patient`'s round `requested_ns`, only while
    /// that round is still the stored one and unanswered. True when it did.
    async fn answer_probe(
        &self,
        patient: &PatientId,
        requested_ns: Nanos,
        alert: &AlertId,
    ) -> Result<bool>;
}
