//! Shard leases: which alert-engine analyses which of the 64 patient shards, decided in
//! the record store so every engine sees one answer (docs/architecture.md, "Shards").
//!
//! A lease is `(shard, owner, epoch, expires_ns)`. An engine claims a shard that is free
//! or expired and renews it (same epoch) before it expires; a taken-over or re-taken
//! shard gets a higher epoch, so an engine holding an older epoch knows it lost it (the
//! fence on the writes that page). Engines also keep a membership heartbeat, from which
//! each computes its fair share when others join or leave.

use crate::ports::Result;
use async_trait::async_trait;
use cw_core::time::Nanos;
use serde::{Deserialize, Serialize};

/// One shard's lease as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardLease {
    pub shard: u16,
    /// The engine's identity (`leases.identity`, random per start by default).
    pub owner: String,
    /// Bumped whenever the shard changes hands (or its owner re-takes it after expiry).
    pub epoch: u64,
    /// The owner may act on the shard until this wall-clock time.
    pub expires_ns: Nanos,
}

impl ShardLease {
    /// Held by someone at `now`.
    pub fn is_live(&self, now: Nanos) -> bool {
        self.expires_ns > now
    }
}

/// One engine's membership heartbeat as stored (the `engines` table / collection).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineBeat {
    /// The engine's identity, as on its leases.
    pub identity: String,
    /// When the engine sent this heartbeat (0: stored by a version that did not say).
    pub beat_ns: Nanos,
    /// The engine counts as alive until then (0: it left).
    pub expires_ns: Nanos,
    /// It takes a configured shard list (`shards`) and stays out of the fair share.
    pub pinned: bool,
}

/// Reading the lease table (ingest's unmonitored-patient check, the api's `GET /v1/shards`).
#[async_trait]
pub trait ShardLeaseView: Send + Sync {
    /// The stored lease of one shard (live or not), or None when it was never leased.
    async fn shard_lease(&self, shard: u16) -> Result<Option<ShardLease>>;

    /// Every stored lease, by shard.
    async fn shard_leases(&self) -> Result<Vec<ShardLease>>;

    /// Every stored engine heartbeat (live, expired or left), by identity.
    async fn engines(&self) -> Result<Vec<EngineBeat>>;
}

#[async_trait]
pub trait ShardLeases: ShardLeaseView {
    /// Claims or renews each of `shards` for `owner` until `now + ttl_ns`, atomically per
    /// shard: a shard never leased, or whose lease expired at `now`, is taken (epoch + 1);
    /// one `owner` holds live is renewed (same epoch); one another owner holds live is
    /// left. Returns the leases `owner` holds afterwards, of those asked for. Of engines
    /// racing for one free shard exactly one gets it.
    async fn claim_shards(
        &self,
        shards: &[u16],
        owner: &str,
        now: Nanos,
        ttl_ns: Nanos,
    ) -> Result<Vec<ShardLease>>;

    /// Gives a lease up at once (expires it) if it is still `lease.owner`'s at
    /// `lease.epoch`; a lease that changed hands meanwhile is left alone.
    async fn release_shard(&self, lease: &ShardLease) -> Result<()>;

    /// Records that engine `beat.identity` is alive until `beat.expires_ns` (0: it left).
    async fn engine_heartbeat(&self, beat: &EngineBeat) -> Result<()>;

    /// Engines in the fair share (not pinned) whose heartbeat is live at `now`, sorted
    /// by identity.
    async fn live_engines(&self, now: Nanos) -> Result<Vec<String>>;
}

/// What a claim does to one stored lease (`None`: never leased), shared by the adapters
/// so both decide alike. `Some(next)`: write `next`, but only while the stored row is
/// still `current` (compare-and-set on its epoch and owner).
pub(crate) fn next_lease(
    current: Option<&ShardLease>,
    shard: u16,
    owner: &str,
    now: Nanos,
    ttl_ns: Nanos,
) -> Option<ShardLease> {
    let expires_ns = now.saturating_add(ttl_ns);
    match current {
        None => Some(ShardLease {
            shard,
            owner: owner.to_owned(),
            epoch: 1,
            expires_ns,
        }),
        Some(held) if held.is_live(now) && held.owner == owner => Some(ShardLease {
            expires_ns,
            ..held.clone()
        }),
        Some(held) if held.is_live(now) => None,
        Some(held) => Some(ShardLease {
            shard,
            owner: owner.to_owned(),
            epoch: held.epoch + 1,
            expires_ns,
        }),
    }
}
