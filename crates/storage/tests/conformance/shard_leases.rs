//! ShardLeases behaviours: one owner per shard at a time, renewals keep the epoch, a
//! takeover after expiry raises it (the fence), racing claimers let exactly one win.

use crate::fixtures::T0;
use cw_storage::{EngineBeat, Stores};

const TTL: i64 = 5_000_000_000;

pub async fn a_free_shard_is_claimed_renewed_by_its_owner_and_refused_to_others(s: &Stores) {
    let a = s.records.claim_shards(&[1, 2], "engine-a", T0, TTL).await;
    let a = a.expect("claim");
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(a.iter().all(|l| l.owner == "engine-a" && l.epoch == 1));
    let b = s.records.claim_shards(&[1, 2, 3], "engine-b", T0 + 1, TTL);
    let b = b.await.expect("claim");
    assert_eq!(
        b.iter().map(|l| l.shard).collect::<Vec<_>>(),
        vec![3],
        "live leases of another engine are left alone: {b:?}"
    );
    let renewed = s.records.claim_shards(&[1, 2], "engine-a", T0 + 2, TTL);
    let renewed = renewed.await.expect("renew");
    assert_eq!(renewed.len(), 2);
    assert!(
        renewed
            .iter()
            .all(|l| l.epoch == 1 && l.expires_ns == T0 + 2 + TTL),
        "a renewal keeps the epoch and moves the expiry: {renewed:?}"
    );
    let stored = s.records.shard_lease(1).await.expect("read");
    assert_eq!(stored, Some(renewed[0].clone()));
    assert_eq!(s.records.shard_lease(9).await.expect("read"), None);
    let all = s.records.shard_leases().await.expect("all");
    assert_eq!(all.iter().map(|l| l.shard).collect::<Vec<_>>(), [1, 2, 3]);
}

pub async fn an_expired_lease_is_taken_over_with_a_higher_epoch_and_the_old_owner_loses_it(
    s: &Stores,
) {
    let first = s.records.claim_shards(&[4], "engine-a", T0, TTL).await;
    assert_eq!(first.expect("claim")[0].epoch, 1);
    // Still live one nanosecond before it expires.
    let early = s.records.claim_shards(&[4], "engine-b", T0 + TTL - 1, TTL);
    assert!(early.await.expect("claim").is_empty());
    let taken = s
        .records
        .claim_shards(&[4], "engine-b", T0 + TTL, TTL)
        .await;
    let taken = taken.expect("takeover");
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].owner.as_str(), taken[0].epoch), ("engine-b", 2));
    let late = s.records.claim_shards(&[4], "engine-a", T0 + TTL + 1, TTL);
    assert!(
        late.await.expect("renew").is_empty(),
        "the old owner's renewal fails once the shard changed hands"
    );
    // The owner re-taking its own expired lease gets a new epoch too: it must warm up.
    let again = s.records.claim_shards(&[4], "engine-b", T0 + 3 * TTL, TTL);
    assert_eq!(again.await.expect("re-take")[0].epoch, 3);
}

pub async fn racing_claims_of_a_free_shard_let_exactly_one_engine_win(s: &Stores) {
    let tries = (0..8).map(|i| {
        let records = s.records.clone();
        tokio::spawn(async move {
            records
                .claim_shards(&[7], &format!("engine-{i}"), T0, TTL)
                .await
        })
    });
    let mut winners = Vec::new();
    for t in tries {
        winners.extend(t.await.expect("task").expect("claim"));
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let stored = s.records.shard_lease(7).await.expect("read");
    assert_eq!(stored.as_ref(), winners.first());
}

pub async fn a_released_lease_is_free_at_once_and_a_stale_release_changes_nothing(s: &Stores) {
    let held = s.records.claim_shards(&[5], "engine-a", T0, TTL).await;
    let held = held.expect("claim").remove(0);
    s.records.release_shard(&held).await.expect("release");
    let taken = s.records.claim_shards(&[5], "engine-b", T0 + 1, TTL).await;
    let taken = taken.expect("claim").remove(0);
    assert_eq!((taken.owner.as_str(), taken.epoch), ("engine-b", 2));
    // engine-a's release of its old lease must not free engine-b's.
    s.records.release_shard(&held).await.expect("stale release");
    let stored = s.records.shard_lease(5).await.expect("read");
    assert_eq!(stored, Some(taken));
}

fn beat(identity: &str, beat_ns: i64, expires_ns: i64, pinned: bool) -> EngineBeat {
    EngineBeat {
        identity: identity.into(),
        beat_ns,
        expires_ns,
        pinned,
    }
}

pub async fn live_engines_lists_only_fresh_heartbeats(s: &Stores) {
    for b in [
        beat("engine-b", T0, T0 + TTL, false),
        beat("engine-a", T0, T0 + TTL, false),
        beat("engine-c", T0 - TTL, T0 + 1, false),
        // Pinned engines stay out of the fair share.
        beat("engine-p", T0, T0 + TTL, true),
    ] {
        s.records.engine_heartbeat(&b).await.expect("heartbeat");
    }
    let live = s.records.live_engines(T0 + 2).await.expect("live");
    assert_eq!(live, ["engine-a", "engine-b"]);
    // Leaving is a heartbeat that expired.
    let left = beat("engine-a", T0 + 3, 0, false);
    s.records.engine_heartbeat(&left).await.expect("leave");
    let live = s.records.live_engines(T0 + 2).await.expect("live");
    assert_eq!(live, ["engine-b"]);
}

pub async fn engines_lists_every_heartbeat_with_its_time_and_pin(s: &Stores) {
    let first = beat("engine-b", T0, T0 + TTL, false);
    s.records.engine_heartbeat(&first).await.expect("b");
    let pinned = beat("engine-a", T0 + 1, T0 + 1 + TTL, true);
    s.records.engine_heartbeat(&pinned).await.expect("a");
    // A later heartbeat replaces the earlier one; one that left stays listed.
    let left = beat("engine-b", T0 + 2, 0, false);
    s.records.engine_heartbeat(&left).await.expect("b leaves");
    let engines = s.records.engines().await.expect("engines");
    assert_eq!(engines, [pinned, left]);
}
