//! Holding shards through leases in the record store (docs/architecture.md, "Shards").
//!
//! Every `renew_ms` the keeper heartbeats this engine, plans its share of the 64 shards
//! (or its pinned list), claims and renews those leases in one call, gives up the ones
//! over its share, and tells the analysis loop what it gained and lost, and which of
//! the notifier watchdog's rounds fall in its shards. The [`Fence`]
//! says which shards this engine may act on right now: a lease counts only until
//! `ttl − margin` after the renewal was *sent*, so an engine cut off from the store stops
//! paging for a shard before any other engine can take it over.

use crate::config::LeaseConfig;
use crate::events::{ShardLost, ShardTaken, StoreFailed, StoreFailure};
use crate::metrics::EngineMetrics;
use cw_core::time::{Nanos, now_ns};
use cw_core::{SHARD_COUNT, shard_of};
use cw_runtime::InternalEvent;
use cw_storage::{EngineBeat, EngineRecords, ShardLease, StoreError, WatchdogProbe};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the analysis loop must do about a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardChange {
    /// Start analysing it: adopt its open alerts, warm its patients up.
    Gained { shard: u16, epoch: u64 },
    /// Stop at once: forget its patients (another engine may own it now).
    Lost { shard: u16 },
}

#[derive(Clone, Copy)]
struct Held {
    epoch: u64,
    until: Instant,
}

/// The shards this engine may act on now, with their epochs; shared by the keeper (which
/// writes it) and the alert writer (which checks it before every write that pages).
pub struct Fence {
    identity: String,
    held: Mutex<HashMap<u16, Held>>,
}

impl Fence {
    pub fn new(identity: String) -> Self {
        Self {
            identity,
            held: Mutex::new(HashMap::new()),
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The epoch of `shard` while this engine's lease on it is locally valid.
    pub fn epoch(&self, shard: u16) -> Option<u64> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&shard)
            .filter(|h| Instant::now() < h.until)
            .map(|h| h.epoch)
    }

    pub fn owned(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn set(&self, shard: u16, epoch: u64, until: Instant) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.insert(shard, Held { epoch, until });
    }

    fn remove(&self, shard: u16) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.remove(&shard);
    }

    /// Shards whose local validity ran out (no renewal reached the store in time).
    fn lapsed(&self) -> Vec<u16> {
        let now = Instant::now();
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.iter()
            .filter(|(_, h)| now >= h.until)
            .map(|(s, _)| *s)
            .collect()
    }
}

pub struct LeaseKeeper {
    records: Arc<dyn EngineRecords>,
    cfg: LeaseConfig,
    /// `Some`: take exactly these (config `shards`), and stay out of the fair share.
    pinned: Option<Vec<u16>>,
    fence: Arc<Fence>,
    changes: mpsc::UnboundedSender<ShardChange>,
    /// Notifier watchdog rounds for shards this engine holds, to the analysis loop.
    probes: mpsc::UnboundedSender<WatchdogProbe>,
    held: BTreeMap<u16, ShardLease>,
    metrics: Arc<EngineMetrics>,
}

/// Where the keeper sends what the analysis loop must act on.
pub struct KeeperOutputs {
    pub changes: mpsc::UnboundedSender<ShardChange>,
    pub probes: mpsc::UnboundedSender<WatchdogProbe>,
}

impl LeaseKeeper {
    pub fn new(
        records: Arc<dyn EngineRecords>,
        cfg: LeaseConfig,
        pinned: &[u16],
        fence: Arc<Fence>,
        outputs: KeeperOutputs,
        metrics: Arc<EngineMetrics>,
    ) -> Self {
        let pinned = (!pinned.is_empty()).then(|| pinned.to_vec());
        let KeeperOutputs { changes, probes } = outputs;
        Self {
            records,
            cfg,
            pinned,
            fence,
            changes,
            probes,
            held: BTreeMap::new(),
            metrics,
        }
    }

    fn ttl_ns(&self) -> Nanos {
        self.cfg.ttl_ms as Nanos * 1_000_000
    }

    /// How long before the store's expiry this engine stops acting: a fifth of the
    /// lifetime, which also bounds the clock skew between engines it tolerates.
    fn margin(&self) -> Duration {
        Duration::from_millis(self.cfg.ttl_ms / 5)
    }

    /// One heartbeat, plan, claim and release; gains and losses go to the loop.
    pub async fn round(&mut self) -> Result<(), StoreError> {
        self.drop_lapsed();
        let sent = Instant::now();
        let now = now_ns();
        let identity = self.fence.identity().to_owned();
        let leases = self.records.shard_leases().await?;
        let unowned = (0..SHARD_COUNT)
            .filter(|s| !leases.iter().any(|l| l.shard == *s && l.is_live(now)))
            .count();
        self.metrics
            .shards_unowned
            .store(unowned as u64, Ordering::Relaxed);
        // Pinned engines heartbeat too, so the api can show them (`GET /v1/shards`);
        // the fair share ranks only the others (`live_engines`).
        self.records
            .engine_heartbeat(&EngineBeat {
                identity: identity.clone(),
                beat_ns: now,
                expires_ns: now + self.ttl_ns(),
                pinned: self.pinned.is_some(),
            })
            .await?;
        let want = match &self.pinned {
            Some(pinned) => pinned.clone(),
            None => {
                let engines = self.records.live_engines(now).await?;
                plan(&identity, &engines, &leases, now)
            }
        };
        // Over the share: stop analysing first, then free the lease for the others.
        let surplus: Vec<ShardLease> = self
            .held
            .values()
            .filter(|l| !want.contains(&l.shard))
            .cloned()
            .collect();
        for lease in surplus {
            self.lose(lease.shard);
            self.records.release_shard(&lease).await?;
            tracing::info!(shard = lease.shard, "shard handed over (rebalance)");
        }
        let claimed = self
            .records
            .claim_shards(&want, &identity, now, self.ttl_ns())
            .await?;
        let until = sent + Duration::from_millis(self.cfg.ttl_ms) - self.margin();
        let claimed_shards: BTreeSet<u16> = claimed.iter().map(|l| l.shard).collect();
        let gone: Vec<u16> = self
            .held
            .keys()
            .filter(|s| !claimed_shards.contains(s))
            .copied()
            .collect();
        for shard in gone {
            tracing::warn!(shard, "shard lease lost to another engine");
            self.lose(shard);
        }
        for lease in claimed {
            let renewed = self
                .held
                .get(&lease.shard)
                .is_some_and(|h| h.epoch == lease.epoch);
            if !renewed {
                if self.held.contains_key(&lease.shard) {
                    self.lose(lease.shard);
                }
                ShardTaken {
                    shard: lease.shard,
                    epoch: lease.epoch,
                }
                .emit(&self.metrics);
                let _ = self.changes.send(ShardChange::Gained {
                    shard: lease.shard,
                    epoch: lease.epoch,
                });
            }
            self.fence.set(lease.shard, lease.epoch, until);
            self.held.insert(lease.shard, lease);
        }
        self.metrics
            .shards_owned
            .store(self.held.len() as u64, Ordering::Relaxed);
        self.offer_probes(now).await;
        Ok(())
    }

    /// The notifier watchdog's pending rounds whose synthetic patient lies in a shard this
    /// engine now holds go to the loop, which opens their alerts through the fenced writer
    /// (docs/architecture.md, "The watchdog's probe"). A round stays pending until
    /// answered, so one lost here is offered again next round.
    async fn offer_probes(&self, now: Nanos) {
        match self.records.pending_probes(now).await {
            Ok(probes) => {
                for probe in probes {
                    if self.fence.epoch(shard_of(&probe.patient)).is_some() {
                        let _ = self.probes.send(probe);
                    }
                }
            }
            Err(e) => StoreFailed {
                failure: StoreFailure::ProbeRead,
                error: &e,
            }
            .emit(&self.metrics),
        }
    }

    /// Leases whose local validity ran out without a renewal: stop acting on them.
    fn drop_lapsed(&mut self) {
        for shard in self.fence.lapsed() {
            tracing::warn!(shard, "shard lease not renewed in time; analysis stopped");
            self.lose(shard);
        }
    }

    fn lose(&mut self, shard: u16) {
        self.fence.remove(shard);
        if self.held.remove(&shard).is_some() {
            ShardLost.emit(&self.metrics);
            let _ = self.changes.send(ShardChange::Lost { shard });
        }
        self.metrics
            .shards_owned
            .store(self.held.len() as u64, Ordering::Relaxed);
    }

    /// Renews every `renew_ms` until shutdown, then gives every lease and the heartbeat
    /// up so the other engines take over at once instead of after the lifetime.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(self.cfg.renew_ms.max(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = self.round().await {
                        StoreFailed {
                            failure: StoreFailure::LeaseRound,
                            error: &e,
                        }
                        .emit(&self.metrics);
                        self.drop_lapsed();
                    }
                }
            }
        }
        let leases: Vec<ShardLease> = self.held.values().cloned().collect();
        for lease in leases {
            self.lose(lease.shard);
            if let Err(e) = self.records.release_shard(&lease).await {
                tracing::warn!(shard = lease.shard, error = %e, "lease not released; it expires");
            }
        }
        let left = EngineBeat {
            identity: self.fence.identity().to_owned(),
            beat_ns: now_ns(),
            expires_ns: 0,
            pinned: self.pinned.is_some(),
        };
        if let Err(e) = self.records.engine_heartbeat(&left).await {
            tracing::warn!(error = %e, "leaving not recorded; the heartbeat expires");
        }
    }
}

/// The shards `identity` should hold: its fair share of those not pinned elsewhere.
/// Engines are ranked by identity; the first `available % n` get one more. An engine
/// keeps its lowest shards up to its share and adds free ones (no live lease) while
/// under it, so shares converge without two engines ever asking for one live lease.
pub fn plan(identity: &str, engines: &[String], leases: &[ShardLease], now: Nanos) -> Vec<u16> {
    let mut engines: Vec<&str> = engines.iter().map(String::as_str).collect();
    if !engines.contains(&identity) {
        engines.push(identity);
        engines.sort_unstable();
    }
    let live: Vec<&ShardLease> = leases.iter().filter(|l| l.is_live(now)).collect();
    let elsewhere = live
        .iter()
        .filter(|l| !engines.contains(&l.owner.as_str()))
        .count();
    let available = usize::from(SHARD_COUNT).saturating_sub(elsewhere);
    let rank = engines.iter().position(|e| *e == identity).unwrap_or(0);
    let n = engines.len();
    let share_of = |r: usize| available / n + usize::from(r < available % n);
    let share = share_of(rank);
    let mut want: Vec<u16> = live
        .iter()
        .filter(|l| l.owner == identity)
        .map(|l| l.shard)
        .collect();
    want.sort_unstable();
    want.truncate(share);
    let free: Vec<u16> = (0..SHARD_COUNT)
        .filter(|s| !live.iter().any(|l| l.shard == *s))
        .collect();
    // The free shards are laid out in rank order, each engine taking as many as it lacks
    // after the ones ranked before it: the survivors of a killed engine then claim
    // different shards in the same round, instead of all racing for the lowest ones and
    // winning about half of them per round (docs/chaos.md, "Found").
    let lacking = |(r, e): (usize, &&str)| {
        share_of(r).saturating_sub(live.iter().filter(|l| l.owner == **e).count())
    };
    let offset = engines[..rank]
        .iter()
        .enumerate()
        .map(lacking)
        .sum::<usize>();
    let start = if free.is_empty() {
        0
    } else {
        offset % free.len()
    };
    let missing = share.saturating_sub(want.len());
    want.extend(free[start..].iter().chain(&free[..start]).take(missing));
    want.sort_unstable();
    want
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(shard: u16, owner: &str, expires_ns: Nanos) -> ShardLease {
        ShardLease {
            shard,
            owner: owner.into(),
            epoch: 1,
            expires_ns,
        }
    }

    #[test]
    fn a_lone_engine_takes_every_shard() {
        let want = plan("a", &["a".into()], &[], 0);
        assert_eq!(want, (0..SHARD_COUNT).collect::<Vec<_>>());
    }

    #[test]
    fn a_joining_engine_makes_the_holder_give_up_half() {
        let leases: Vec<ShardLease> = (0..SHARD_COUNT).map(|s| lease(s, "a", 10)).collect();
        let engines = vec!["a".to_owned(), "b".to_owned()];
        let a = plan("a", &engines, &leases, 0);
        assert_eq!(a, (0..32).collect::<Vec<_>>(), "a keeps its lowest half");
        assert!(
            plan("b", &engines, &leases, 0).is_empty(),
            "nothing free yet"
        );
        // Once a released the upper half, b takes it.
        let released: Vec<ShardLease> = (0..32).map(|s| lease(s, "a", 10)).collect();
        assert_eq!(
            plan("b", &engines, &released, 0),
            (32..SHARD_COUNT).collect::<Vec<_>>()
        );
    }

    #[test]
    fn shares_differ_by_at_most_one_and_pinned_shards_are_left_out() {
        let engines: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let pinned = vec![lease(0, "pinned", 10), lease(1, "pinned", 10)];
        let a = plan("a", &engines, &pinned, 0);
        let b = plan("b", &engines, &pinned, 0);
        assert_eq!((a.len(), b.len()), (21, 21), "62 shared by 3");
        assert!(!a.contains(&0) && !a.contains(&1));
    }

    #[test]
    fn survivors_of_a_killed_engine_claim_disjoint_shards_in_one_round() {
        // c held 20..42 and died; a and b hold the rest, each under its share of 32.
        let owner = |s: u16| match s {
            0..20 => ("a", 10),
            20..42 => ("c", 5),
            _ => ("b", 10),
        };
        let leases: Vec<ShardLease> = (0..SHARD_COUNT)
            .map(|s| lease(s, owner(s).0, owner(s).1))
            .collect();
        let engines = vec!["a".to_owned(), "b".to_owned()];
        let a: Vec<u16> = plan("a", &engines, &leases, 5)
            .into_iter()
            .filter(|s| (20..42).contains(s))
            .collect();
        let b: Vec<u16> = plan("b", &engines, &leases, 5)
            .into_iter()
            .filter(|s| (20..42).contains(s))
            .collect();
        assert!(a.iter().all(|s| !b.contains(s)), "{a:?} and {b:?} overlap");
        assert_eq!(a.len() + b.len(), 22, "every dead shard asked for at once");
    }

    #[test]
    fn an_expired_lease_is_free_to_take() {
        let dead: Vec<ShardLease> = (0..SHARD_COUNT).map(|s| lease(s, "dead", 5)).collect();
        let want = plan("a", &["a".into()], &dead, 5);
        assert_eq!(want.len(), usize::from(SHARD_COUNT));
    }
}
