//! `GET /v1/shards` — which alert-engine analyses which of the 64 patient shards, and
//! any gap, for admins and ops (docs/api.md, "Shard ownership"; the leases themselves:
//! docs/architecture.md, "Shards"). It reads the lease table, the engines' heartbeats
//! and the open "monitoring interrupted" alarms; it names no patient, so ops (who see no
//! PHI) may read it.

use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{Alert, RuleKind, SHARD_COUNT};
use cw_storage::{EngineBeat, ShardLease};
use serde::Serialize;

/// The shard map at `at_ns`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShardMap {
    /// When the store was read (ns since the epoch).
    pub at_ns: Nanos,
    /// Every shard, 0 to 63.
    pub shards: Vec<ShardOwner>,
    /// Every engine that heartbeat, by identity (live, expired or left).
    pub engines: Vec<EngineStatus>,
    /// Shards no engine holds a live lease on: nobody analyses their patients.
    pub uncovered: Vec<Uncovered>,
    /// Patients whose "monitoring interrupted" alarm is open (streaming, unanalysed for
    /// longer than ingest's `unmonitored.alarm_after_s`).
    pub unmonitored: Unmonitored,
}

/// One shard's lease.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShardOwner {
    pub shard: u16,
    /// The engine that holds it, or held it last (`None`: never leased).
    pub owner: Option<String>,
    /// Its lease is live: `owner` analyses the shard now.
    pub live: bool,
    /// Bumped on every change of hands.
    pub epoch: Option<u64>,
    /// The lease runs out then unless renewed (0: released).
    pub expires_ns: Option<Nanos>,
    /// The owner's last heartbeat (`None`: unknown).
    pub last_heartbeat_ns: Option<Nanos>,
    /// The owner is pinned to a configured shard list (`shards`) rather than sharing.
    pub pinned: bool,
}

/// One engine, by its heartbeat.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EngineStatus {
    /// `leases.identity` (random per start unless configured).
    pub identity: String,
    pub last_heartbeat_ns: Option<Nanos>,
    /// It counts as alive until then (0: it stopped and said so).
    pub expires_ns: Nanos,
    pub live: bool,
    pub pinned: bool,
    /// Shards it holds a live lease on.
    pub shards: usize,
}

/// A shard nobody analyses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uncovered {
    pub shard: u16,
    /// Since its last lease ran out (`None`: never leased).
    pub since_ns: Option<Nanos>,
}

/// The open "monitoring interrupted" alarms, counted (no patient named).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unmonitored {
    pub patients: usize,
    /// The longest gap among them so far, in seconds (0 when none).
    pub longest_s: f64,
}

#[utoipa::path(get, path = "/v1/shards",
    summary = "Shard ownership: each shard's engine, lease and heartbeat; uncovered shards and unmonitored gaps (admin, ops)",
    extensions(("x-access" = json!(Access::AdminOrOps))),
    responses((status = 200, body = ShardMap)))]
pub async fn map(State(state): State<AppState>) -> Result<Json<ShardMap>, ApiError> {
    let leases = state.records.shard_leases().await?;
    let engines = state.records.engines().await?;
    let open = state.records.open_alerts().await?;
    Ok(Json(shard_map(&leases, &engines, &open, now_ns())))
}

/// The map from what the store holds at `now`.
pub fn shard_map(
    leases: &[ShardLease],
    engines: &[EngineBeat],
    open: &[Alert],
    now: Nanos,
) -> ShardMap {
    let beat_of = |identity: &str| engines.iter().find(|e| e.identity == identity);
    let shards: Vec<ShardOwner> = (0..SHARD_COUNT)
        .map(|shard| {
            let lease = leases.iter().find(|l| l.shard == shard);
            let beat = lease.and_then(|l| beat_of(&l.owner));
            let live = lease.is_some_and(|l| l.is_live(now));
            ShardOwner {
                shard,
                owner: lease.map(|l| l.owner.clone()),
                live,
                epoch: lease.map(|l| l.epoch),
                expires_ns: lease.map(|l| l.expires_ns),
                last_heartbeat_ns: beat.map(|b| b.beat_ns).filter(|t| *t > 0),
                pinned: live && beat.is_some_and(|b| b.pinned),
            }
        })
        .collect();
    let engines = engines
        .iter()
        .map(|e| EngineStatus {
            identity: e.identity.clone(),
            last_heartbeat_ns: Some(e.beat_ns).filter(|t| *t > 0),
            expires_ns: e.expires_ns,
            live: e.expires_ns > now,
            pinned: e.pinned,
            shards: shards
                .iter()
                .filter(|s| s.live && s.owner.as_deref() == Some(e.identity.as_str()))
                .count(),
        })
        .collect();
    let uncovered = shards
        .iter()
        .filter(|s| !s.live)
        .map(|s| Uncovered {
            shard: s.shard,
            since_ns: s.expires_ns.filter(|_| s.owner.is_some()),
        })
        .collect();
    let gaps: Vec<Nanos> = open
        .iter()
        .filter(|a| a.rule == RuleKind::MonitoringInterrupted && a.state.is_open())
        .map(|a| (now - a.started_ns).max(0))
        .collect();
    ShardMap {
        at_ns: now,
        shards,
        engines,
        uncovered,
        unmonitored: Unmonitored {
            patients: gaps.len(),
            longest_s: gaps
                .iter()
                .max()
                .map_or(0.0, |g| *g as f64 / NANOS_PER_SEC as f64),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{PatientId, Priority};

    const NOW: Nanos = 1_000 * NANOS_PER_SEC;

    fn lease(shard: u16, owner: &str, expires_ns: Nanos) -> ShardLease {
        ShardLease {
            shard,
            owner: owner.into(),
            epoch: 2,
            expires_ns,
        }
    }

    fn beat(identity: &str, expires_ns: Nanos, pinned: bool) -> EngineBeat {
        EngineBeat {
            identity: identity.into(),
            beat_ns: expires_ns - 5 * NANOS_PER_SEC,
            expires_ns,
            pinned,
        }
    }

    #[test]
    fn owners_heartbeats_pins_and_uncovered_shards_come_from_leases_and_heartbeats() {
        let leases = [
            lease(0, "engine-a", NOW + 1),
            lease(1, "engine-p", NOW + 1),
            // engine-b was killed: its lease ran out 3 s ago.
            lease(2, "engine-b", NOW - 3 * NANOS_PER_SEC),
        ];
        let engines = [
            beat("engine-a", NOW + 1, false),
            beat("engine-b", NOW - 3 * NANOS_PER_SEC, false),
            beat("engine-p", NOW + 1, true),
        ];
        let map = shard_map(&leases, &engines, &[], NOW);
        assert_eq!(map.shards.len(), usize::from(SHARD_COUNT));
        let s0 = &map.shards[0];
        assert_eq!(
            (s0.owner.as_deref(), s0.live, s0.pinned),
            (Some("engine-a"), true, false)
        );
        assert_eq!(s0.last_heartbeat_ns, Some(NOW + 1 - 5 * NANOS_PER_SEC));
        assert!(map.shards[1].pinned);
        assert!(!map.shards[2].live);
        assert_eq!(map.shards[3].owner, None);
        let uncovered: Vec<(u16, Option<Nanos>)> = map
            .uncovered
            .iter()
            .map(|u| (u.shard, u.since_ns))
            .collect();
        assert_eq!(uncovered.len(), usize::from(SHARD_COUNT) - 2);
        assert_eq!(uncovered[0], (2, Some(NOW - 3 * NANOS_PER_SEC)));
        assert_eq!(uncovered[1], (3, None));
        let held: Vec<(&str, bool, usize)> = map
            .engines
            .iter()
            .map(|e| (e.identity.as_str(), e.live, e.shards))
            .collect();
        assert_eq!(
            held,
            [
                ("engine-a", true, 1),
                ("engine-b", false, 0),
                ("engine-p", true, 1)
            ]
        );
    }

    #[test]
    fn unmonitored_counts_open_interruption_alarms_and_their_longest_gap_only() {
        let alarm = |id: &str, since_s: i64, rule| Alert {
            started_ns: NOW - since_s * NANOS_PER_SEC,
            ..Alert::firing(PatientId::parse(id).expect("id"), rule, Priority::High, NOW)
        };
        let open = [
            alarm("p-1", 20, RuleKind::MonitoringInterrupted),
            alarm("p-2", 42, RuleKind::MonitoringInterrupted),
            alarm("p-3", 99, RuleKind::HrHigh),
        ];
        let map = shard_map(&[], &[], &open, NOW);
        assert_eq!(map.unmonitored.patients, 2);
        assert!((map.unmonitored.longest_s - 42.0).abs() < 1e-9);
        let none = shard_map(&[], &[], &[], NOW);
        assert_eq!(
            (none.unmonitored.patients, none.unmonitored.longest_s),
            (0, 0.0)
        );
    }
}
