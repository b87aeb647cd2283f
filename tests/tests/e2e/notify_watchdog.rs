//! The notifier's self-watchdog: on a schedule a synthetic alert goes through an
//! alert-engine (which opens it, asked by a probe in the store), the store and the outbox;
//! when no engine opens it or it is not delivered in time, ops are paged by SMS
//! (docs/architecture.md, "The watchdog's probe").

use cw_core::{Channel, DeliveryStatus, PatientId, Role, User, UserId};
use cw_e2e::api::ApiHarness;
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use serde_json::Value;
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

fn watchdog(ops: &User, timeout_ms: u64, identity: Option<&str>) -> Tuning {
    let identity = identity
        .map(|i| format!("identity = \"{i}\"\n"))
        .unwrap_or_default();
    Tuning {
        extra: format!(
            "[watchdog]\ninterval_s = 1\ntimeout_ms = {timeout_ms}\nops_user = \"{}\"\n{identity}",
            ops.id
        ),
        ..Tuning::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_alert_comes_back_delivered_and_pages_nobody() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let ops = ops_user(&h).await;
    h.spawn_engine().await;
    h.spawn(&watchdog(&ops, 10_000, Some("e2e")));
    let patient = PatientId::parse("cw-watchdog-e2e").expect("id");
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
            "no synthetic alert came back; log:\n{}\nengine:\n{}",
            h.log(),
            h.engine_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Opened by the engine, through its fenced writer: the notifier only asked.
    assert!(
        plain(&h.engine_log()).contains("watchdog probe answered"),
        "{}",
        h.engine_log()
    );
    assert!(
        h.sandbox.messages().is_empty(),
        "ops not paged when all is well"
    );
}

/// A round passes with the engine up; once the only engine is killed (kill -9) nobody
/// opens the synthetic alert, the round fails and ops get the SMS at the Twilio sandbox,
/// naming the engine side. (The notifier and its outbox are fine throughout.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_pages_ops_when_the_only_engine_is_killed() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let ops = ops_user(&h).await;
    h.spawn_engine().await;
    h.spawn(&watchdog(&ops, 3_000, Some("engine-kill")));
    let came_back = |log: &str| plain(log).matches("came_back=true").count();
    let deadline = Instant::now() + Duration::from_secs(30);
    while came_back(&h.log()) < 1 {
        assert!(
            Instant::now() < deadline,
            "no round came back with the engine up; log:\n{}\nengine:\n{}",
            h.log(),
            h.engine_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        h.sandbox.messages().is_empty(),
        "nobody paged while it works"
    );
    if let Some(engine) = h.engine.as_mut() {
        engine.kill();
    }
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(30))
        .await;
    assert!(!messages.is_empty(), "ops paged; log:\n{}", h.log());
    assert_eq!(messages[0].to, "+15005550900");
    assert!(
        messages[0].body.contains("no alert-engine opened"),
        "{:?}",
        messages[0].body
    );
    assert!(plain(&h.log()).contains("came_back=false"), "{}", h.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_pages_ops_when_the_synthetic_alert_is_not_delivered_in_time() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let ops = ops_user(&h).await;
    // No time at all to deliver: every round counts as lost.
    h.spawn(&watchdog(&ops, 0, None));
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert!(!messages.is_empty(), "ops paged; log:\n{}", h.log());
    assert_eq!(messages[0].to, "+15005550900");
    assert!(messages[0].body.contains("watchdog"));
}

/// The synthetic patient of a round that came back stays out of what ops and admins
/// read: the fatigue report counts only the two real patients' alarms, and FHIR Patient
/// search across all patients finds only them (docs/architecture.md, watchdog). Doctor
/// views start from the doctor's own patients, which never include a synthetic one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_patients_stay_out_of_clinical_views() {
    let mut n = NotifierHarness::new(Mode::Servers).await;
    let ops = ops_user(&n).await;
    n.spawn_engine().await;
    n.spawn(&watchdog(&ops, 10_000, Some("views")));
    let synthetic = PatientId::parse("cw-watchdog-views").expect("id");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resolved = n
            .stores
            .records
            .alerts_for_patients(std::slice::from_ref(&synthetic), None, 10)
            .await
            .expect("alerts")
            .iter()
            .filter(|a| a.resolved_ns.is_some())
            .count();
        if resolved >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no watchdog rounds; log:\n{}",
            n.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The api on the notifier's store, with its two real patients and an alert each.
    let dir = tempfile::tempdir().expect("temp dir");
    let h = ApiHarness::start_on(dir, n.storage.clone(), |_| {}).await;
    let get = |path: &str, token: String| {
        let request = h.http.get(h.url(path)).bearer_auth(token);
        async move {
            let r = request.send().await.expect("request");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")
        }
    };
    let real = [h.own.to_string(), h.other.to_string()];
    for token in [h.token(&h.ops, Role::Ops), h.token(&h.admin, Role::Admin)] {
        let report = get("/v1/reports/fatigue?days=7", token).await;
        assert_eq!(report["alarms"], 2, "only real patients' alarms: {report}");
        let rows = report["rows"].as_array().expect("rows");
        assert!(
            rows.iter()
                .all(|r| real.iter().any(|p| r["patient"] == p.as_str())),
            "{report}"
        );
    }
    let everyone = get("/fhir/R4/Patient", h.token(&h.admin, Role::Admin)).await;
    assert_eq!(everyone["total"], 2, "only real patients: {everyone}");
    assert!(!everyone.to_string().contains("cw-watchdog-"), "{everyone}");
}

/// Two notifiers on one store and one engine, each notifier with its own watchdog: every
/// round of both comes back delivered and ops are never paged. (With one shared synthetic patient the second
/// notifier's alert was refused — one open alert per patient and rule — every round.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_notifiers_watchdogs_page_nobody() {
    let mut h = NotifierHarness::new(Mode::Servers).await;
    let ops = ops_user(&h).await;
    h.spawn_engine().await;
    // Default identities: this host's name and each one's admin port, so they differ.
    h.spawn(&watchdog(&ops, 10_000, None));
    h.spawn_replica(&watchdog(&ops, 10_000, None));
    let rounds = |log: &str| plain(log).matches("came_back=true").count();
    let deadline = Instant::now() + Duration::from_secs(40);
    while rounds(&h.log()) < 4 || rounds(&h.replica_logs()) < 4 {
        assert!(
            Instant::now() < deadline,
            "both watchdogs should come back 4 times; first:\n{}\nsecond:\n{}\nengine:\n{}",
            h.log(),
            h.replica_logs(),
            h.engine_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for log in [plain(&h.log()), plain(&h.replica_logs())] {
        assert!(!log.contains("came_back=false"), "{log}");
        assert!(!log.contains("paging ops"), "{log}");
    }
    assert!(
        h.sandbox.messages().is_empty(),
        "ops not paged: {:#?}",
        h.sandbox.messages()
    );
}

/// A log without its terminal colour codes (`ESC [ … m`), so fields read `key=value`.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
