//! Requests from a provider that may act only once: an SMS reply (`MessageSid`) or a key
//! press (`CallSid`) acknowledges at most one time, however often a captured, validly
//! signed copy is posted again. Kept in the record store, so the rule holds across
//! restarts and between notifier replicas (docs/security.md, Edge).

use crate::ports::Result;
use async_trait::async_trait;
use cw_core::time::Nanos;

#[async_trait]
pub trait ReplayGuard: Send + Sync {
    /// Records `request_id` as used at `at`: `true` the first time it is seen, `false`
    /// every later time (a replay), also when the first use was another process's.
    /// Atomic: of two racing uses exactly one gets `true`.
    async fn first_use(&self, request_id: &str, at: Nanos) -> Result<bool>;

    /// Forgets the ids first used before `before` (so the guard does not grow without
    /// bound); how many. The notifier keeps `webhooks.replay_retention_days` of them.
    async fn forget_used_before(&self, before: Nanos) -> Result<u64>;
}
