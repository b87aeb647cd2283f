//! IHE PCD ACM alert reporting (issue 17 item 2): the notifier process reports each
//! alarm state change to an alert manager written on PyPI's `hl7` (its MLLP server and
//! parser, tests/assets/python/acm_receiver.py), which checks every PCD-04 field the
//! profile requires and answers with a PCD-05; the answer lands on the delivery row.
//! Also: a crash between the manager's answer and our record of it, and a lost link.

use cw_core::time::now_ns;
use cw_core::{Channel, Delivery, DeliveryStatus, Priority};
use cw_e2e::env::{free_port, required};
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The Python alert manager, killed when dropped.
struct AlertManager {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl AlertManager {
    fn start(port: u16, log: &Path) -> Self {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/python/acm_receiver.py");
        let child = Command::new(required("CW_TEST_PYTHON"))
            .arg(script)
            .arg(port.to_string())
            .arg(log)
            .spawn()
            .expect("python alert manager starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "alert manager did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            port,
            log: log.to_owned(),
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every message it received, as it parsed and judged it.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("receiver log line"))
            .collect()
    }

    fn of_alert(&self, alert: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|r| r["alert"] == alert)
            .collect()
    }
}

impl Drop for AlertManager {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tuning(port: u16, extra: &str) -> Tuning {
    Tuning {
        extra: format!(
            r#"[routing]
high = ["in_app"]
medium = ["in_app"]
low = ["in_app"]
{extra}
[[alert_managers]]
name = "ward-3"
address = "127.0.0.1:{port}"
receiving_application = "ACM"
receiving_facility = "WARD-3"
ack_timeout_ms = 2000
keep_alive_s = 1
reconnect_max_ms = 1000
"#
        ),
        ..Tuning::default()
    }
}

fn acm_rows(rows: &[Delivery]) -> Vec<&Delivery> {
    rows.iter()
        .filter(|d| d.channel == Channel::AlertManager)
        .collect()
}

fn delivered(rows: &[Delivery], n: usize) -> bool {
    let acm = acm_rows(rows);
    acm.len() == n && acm.iter().all(|d| d.status == DeliveryStatus::Delivered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_acknowledge_and_end_reach_the_alert_manager_and_its_pcd05_is_recorded() {
    start_acknowledge_and_end(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_acknowledge_and_end_on_mongodb() {
    start_acknowledge_and_end(Mode::Servers).await;
}

async fn start_acknowledge_and_end(mode: Mode) {
    let mut h = NotifierHarness::new(mode).await;
    let am = AlertManager::start(free_port(), &h.dir.path().join("am.jsonl"));
    let (patient, _) = h.chain(&["+15005550111"]).await;
    h.spawn(&tuning(am.port, ""));
    let alert = h.fire(&patient.id, Priority::High).await;
    h.wait_deliveries(&alert.id, "start answered", |rows| delivered(rows, 1))
        .await;
    h.stores
        .records
        .acknowledge_alert(&alert.id, "dr-acm", now_ns())
        .await
        .expect("ack");
    h.wait_deliveries(&alert.id, "acknowledgement answered", |rows| {
        delivered(rows, 2)
    })
    .await;
    h.stores
        .records
        .resolve_alert(&alert.id, now_ns())
        .await
        .expect("resolve");
    let rows = h
        .wait_deliveries(&alert.id, "end answered", |rows| delivered(rows, 3))
        .await;

    let got = am.of_alert(alert.id.as_str());
    for record in am.received() {
        assert_eq!(record["problems"], serde_json::json!([]), "{record}");
    }
    let phases: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|r| {
            (
                r["phase"].as_str().unwrap_or(""),
                r["state"].as_str().unwrap_or(""),
                r["inactivation"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("start", "active", "enabled"),
            ("update", "active", "alert-acknowledged"),
            ("end", "inactive", "alert-acknowledged"),
        ],
        "{got:#?}"
    );
    for r in &got {
        assert_eq!(r["patient"], patient.id.as_str());
        assert_eq!(
            (r["priority"].as_str(), r["kind"].as_str()),
            (Some("PH"), Some("SP"))
        );
        assert_eq!(r["text"], "heart rate above limit: 150 bpm (limit 120)");
    }
    // Quiet now: a keep-alive goes within a second or two (keep_alive_s = 1).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !am.received().iter().any(|r| r["keep_alive"] == true) {
        assert!(
            Instant::now() < deadline,
            "no keep-alive while quiet:\n{}",
            h.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for record in am.received() {
        assert_eq!(record["problems"], serde_json::json!([]), "{record}");
    }
    for row in acm_rows(&rows) {
        let receipt = row.provider_id.as_deref().unwrap_or("");
        assert!(
            receipt.starts_with("ORA^R41^ORA_R41 accept") && receipt.ends_with("status=delivered"),
            "the PCD-05 is on the row: {row:?}"
        );
        assert_eq!(row.recipient.as_str(), "ward-3");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_manager_answered_resends_under_the_same_control_id_only() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let am = AlertManager::start(free_port(), &h.dir.path().join("am.jsonl"));
    let (patient, _) = h.chain(&["+15005550112"]).await;
    let lease = "[reliability]\nclaim_lease_ms = 2000";
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&Tuning {
        abort_after_provider_accept: true,
        ..tuning(am.port, lease)
    });
    h.died_in_the_crash_window().await;
    let rows = h.deliveries(&alert.id).await;
    assert_eq!(
        acm_rows(&rows).first().map(|d| d.status),
        Some(DeliveryStatus::Queued),
        "answered but not recorded: {rows:#?}"
    );

    h.spawn(&tuning(am.port, lease));
    h.wait_deliveries(&alert.id, "start recorded after the restart", |rows| {
        delivered(rows, 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = am.of_alert(alert.id.as_str());
    assert_eq!(
        got.len(),
        2,
        "sent once before the kill and once after: {got:#?}"
    );
    assert_eq!(
        got[0]["control_id"], got[1]["control_id"],
        "the re-send is the same message (MSH-10), which the manager drops as a repeat"
    );
    assert_eq!(acm_rows(&h.deliveries(&alert.id).await).len(), 1);
}

/// `cw_notifier_alert_managers_down` after the manager went away, polled for 15 s.
async fn wait_down(h: &NotifierHarness, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = h.metrics().await;
        if cw_e2e::ingest::metric(&text, "cw_notifier_alert_managers_down") == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "alert managers down never {want}:\n{text}\n{}",
            h.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_link_is_raised_to_ops_and_reports_wait_for_the_reconnect() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let port = free_port();
    let mut am = AlertManager::start(port, &h.dir.path().join("am.jsonl"));
    let (patient, _) = h.chain(&["+15005550113"]).await;
    // Retries of a report stay within 2 s of each other, so the reconnect shows soon.
    h.spawn(&tuning(port, "[reliability]\nretry_max_ms = 2000"));
    h.wait_ready().await;
    wait_down(&h, 0.0).await;

    am.stop();
    wait_down(&h, 1.0).await;
    let text = h.metrics().await;
    assert!(
        cw_e2e::ingest::metric(&text, "cw_notifier_alert_manager_link_lost_total") >= 1.0,
        "{text}"
    );
    assert!(h.log().contains("alert manager link lost"), "{}", h.log());
    let alert = h.fire(&patient.id, Priority::High).await;
    h.wait_deliveries(&alert.id, "start waiting for its retry", |rows| {
        acm_rows(rows)
            .iter()
            .any(|d| d.status == DeliveryStatus::Failed && d.next_try_ns.is_some())
    })
    .await;

    let back = AlertManager::start(port, &h.dir.path().join("am-back.jsonl"));
    wait_down(&h, 0.0).await;
    h.wait_deliveries(&alert.id, "start delivered after the reconnect", |rows| {
        delivered(rows, 1)
    })
    .await;
    assert_eq!(back.of_alert(alert.id.as_str()).len(), 1);
}
