//! Refresh tokens expire, and deliveries unchanged for `retention.delivery_days` go, on
//! both backends (docs/operations.md, "Data lifecycle"): MongoDB deletes them with its TTL
//! monitor, run here at once with SecantusDB's `secantusAdmin.pruneTtl` (the pass its
//! 60 s sweeper makes); the embedded file with its retention sweep.

use crate::backends::Backend;
use crate::fixtures::delivery;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{AlertId, Channel, UserId};
use cw_storage::credentials::{RefreshToken, RefreshUse};
use cw_storage::{Backend as Kind, StoreError};

const DAY: Nanos = 86_400 * NANOS_PER_SEC;

struct Seeded {
    expired_token: String,
    live_token: String,
    old_alert: AlertId,
    recent_alert: AlertId,
}

async fn seed(backend: &Backend) -> Seeded {
    let s = &backend.stores;
    let user = UserId::random();
    let token = |hash: &str, expires_ns: Nanos| RefreshToken {
        token_sha256: format!("{hash}-{user}"),
        user: user.clone(),
        family: format!("family-{user}"),
        expires_ns,
        used: false,
        revoked: false,
    };
    let (expired, live) = (
        token("expired", now_ns() - NANOS_PER_SEC),
        token("live", now_ns() + 3_600 * NANOS_PER_SEC),
    );
    for t in [&expired, &live] {
        s.records.insert_refresh(t).await.expect("insert token");
    }
    let days = i64::from(backend.cfg.retention.delivery_days);
    assert!(days > 0, "the default keeps deliveries a bounded time");
    let (old_alert, recent_alert) = (AlertId::random(), AlertId::random());
    let mut old = delivery(&old_alert, Channel::Sms, &user, 1);
    old.updated_ns = now_ns() - (days + 1) * DAY;
    let mut recent = delivery(&recent_alert, Channel::Sms, &user, 1);
    recent.updated_ns = now_ns() - (days - 1) * DAY;
    for d in [&old, &recent] {
        s.records.claim_delivery(d).await.expect("claim");
    }
    Seeded {
        expired_token: expired.token_sha256,
        live_token: live.token_sha256,
        old_alert,
        recent_alert,
    }
}

async fn check(backend: &Backend, seeded: &Seeded) {
    let s = &backend.stores;
    assert!(matches!(
        s.records.use_refresh(&seeded.expired_token).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.records.use_refresh(&seeded.live_token).await,
        Ok(RefreshUse::Fresh(_))
    ));
    let old = s.records.deliveries_for_alert(&seeded.old_alert).await;
    assert_eq!(old.expect("read").len(), 0, "an old delivery stayed");
    let recent = s.records.deliveries_for_alert(&seeded.recent_alert).await;
    assert_eq!(recent.expect("read").len(), 1, "a recent delivery went");
}

#[tokio::test]
async fn embedded_sweep_deletes_expired_tokens_and_old_deliveries_only() {
    let backend = Backend::embedded().await;
    let seeded = seed(&backend).await;
    assert_eq!(backend.cfg.backend, Kind::Embedded);
    let report = cw_storage::sqlite::sweep(&backend.cfg, now_ns())
        .await
        .expect("sweep");
    assert_eq!(
        (report.refresh_tokens_deleted, report.deliveries_deleted),
        (1, 1),
        "{report:?}"
    );
    check(&backend, &seeded).await;
}

#[tokio::test]
async fn mongodb_ttl_monitor_deletes_expired_tokens_and_old_deliveries_only() {
    let backend = Backend::servers().await;
    let seeded = seed(&backend).await;
    let client = mongodb::Client::with_uri_str(
        std::env::var("CW_TEST_MONGO_URI").expect("CW_TEST_MONGO_URI"),
    )
    .await
    .expect("mongo client");
    let pruned = client
        .database("admin")
        .run_command(mongodb::bson::doc! { "secantusAdmin.pruneTtl": 1 })
        .await
        .expect("TTL pass");
    assert!(pruned.get_i32("pruned").unwrap_or(0) >= 2, "{pruned:?}");
    check(&backend, &seeded).await;
}
