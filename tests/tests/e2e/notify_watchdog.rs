//! The notifier's self-watchdog: a synthetic alert goes through the store and the outbox
//! on a schedule; when it is not delivered in time, ops are paged by SMS.

use cw_core::{Channel, DeliveryStatus, PatientId, Role, User, UserId};
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use std::time::{Duration, Instant};

async fn ops_user(h: &NotifierHarness) -> User {
    let ops = User {
        id: UserId::random(),
        role: Role::Ops,
        phone: Some("+15005550900".into()),
        email: None,
        notify: Default::default(),
        disabled: None,
        sessions: Default::default(),
    };
    h.stores.records.put_user(&ops).await.expect("put ops");
    ops
}

fn watchdog(ops: &User, timeout_ms: u64) -> Tuning {
    Tuning {
        extra: format!(
            "[watchdog]\ninterval_s = 1\ntimeout_ms = {timeout_ms}\nops_user = \"{}\"\n",
            ops.id
        ),
        ..Tuning::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_alert_comes_back_delivered_and_pages_nobody() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let ops = ops_user(&h).await;
    h.spawn(&watchdog(&ops, 10_000));
    let patient = PatientId::parse("cw-watchdog").expect("id");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alerts = h
            .stores
            .records
            .alerts_for_patients(std::slice::from_ref(&patient), None, 10)
            .await
            .expect("alerts");
        let mut delivered = false;
        for a in alerts.iter().filter(|a| a.resolved_ns.is_some()) {
            delivered |= h
                .deliveries(&a.id)
                .await
                .iter()
                .any(|d| d.channel == Channel::InApp && d.status == DeliveryStatus::Delivered);
        }
        if delivered {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no synthetic alert came back; log:\n{}",
            h.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        h.sandbox.messages().is_empty(),
        "ops not paged when all is well"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_pages_ops_when_the_synthetic_alert_is_not_delivered_in_time() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let ops = ops_user(&h).await;
    // No time at all to deliver: every round counts as lost.
    h.spawn(&watchdog(&ops, 0));
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert!(!messages.is_empty(), "ops paged; log:\n{}", h.log());
    assert_eq!(messages[0].to, "+15005550900");
    assert!(messages[0].body.contains("watchdog"));
}
