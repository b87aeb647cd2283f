//! IHE PCD ACM alert reporting (issue 17 item 2): the notifier process reports each
//! alarm state change to an alert manager written on PyPI's `hl7` (its MLLP server and
//! parser, tests/assets/python/acm_receiver.py), which checks every PCD-04 field the
//! profile requires and answers with a PCD-05; the answer lands on the delivery row.
//! Also: a crash between the manager's answer and our record of it, a lost link, its
//! application errors and rejects, MLLP over TLS, and an alarm the engine raised from a
//! streamed record.

use cw_core::time::now_ns;
use cw_core::{Channel, Delivery, DeliveryStatus, Priority};
use cw_e2e::env::{free_port, required};
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::{Mode, Providers, System};
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
        Self::start_with(port, log, &[])
    }

    /// With the receiver's options (`--answer AE`, `--tls CERT KEY`).
    fn start_with(port: u16, log: &Path, options: &[&str]) -> Self {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/python/acm_receiver.py");
        let child = Command::new(required("CW_TEST_PYTHON"))
            .arg(script)
            .arg(port.to_string())
            .arg(log)
            .args(options)
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
{}"#,
            manager("ward-3", port, "")
        ),
        ..Tuning::default()
    }
}

/// One `[[alert_managers]]` table; `more` adds keys to it.
fn manager(name: &str, port: u16, more: &str) -> String {
    format!(
        r#"[[alert_managers]]
name = "{name}"
address = "127.0.0.1:{port}"
receiving_application = "ACM"
receiving_facility = "WARD-3"
ack_timeout_ms = 2000
keep_alive_s = 1
reconnect_max_ms = 1000
{more}
"#
    )
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
        assert!(
            row.sent_ns.is_some(),
            "the manager's accept is timed: {row:?}"
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

/// `cw_notifier_alert_manager_replies_total` of one MSA-1 class.
async fn replies(h: &NotifierHarness, code: &str) -> f64 {
    let name = format!("cw_notifier_alert_manager_replies_total{{code=\"{code}\"}}");
    cw_e2e::ingest::metric(&h.metrics().await, &name)
}

/// An application error (AE) is the manager refusing the message's content: the row is
/// failed at once with the reason and the answer on it, never sent again, and the
/// alarm's next change still goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_error_fails_the_change_once_and_the_next_change_still_goes() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let am = AlertManager::start_with(
        free_port(),
        &h.dir.path().join("am.jsonl"),
        &["--answer", "AE"],
    );
    let (patient, _) = h.chain(&["+15005550114"]).await;
    h.spawn(&tuning(
        am.port,
        "[reliability]\nretry_base_ms = 100\nretry_max_ms = 200",
    ));
    let alert = h.fire(&patient.id, Priority::High).await;
    let given_up = |rows: &[Delivery], n: usize| {
        let acm = acm_rows(rows);
        acm.len() == n
            && acm
                .iter()
                .all(|d| d.status == DeliveryStatus::Failed && d.next_try_ns.is_none())
    };
    h.wait_deliveries(&alert.id, "start failed for good", |rows| given_up(rows, 1))
        .await;
    h.stores
        .records
        .acknowledge_alert(&alert.id, "dr-acm", now_ns())
        .await
        .expect("ack");
    let rows = h
        .wait_deliveries(&alert.id, "acknowledgement sent after the error", |rows| {
            given_up(rows, 2)
        })
        .await;
    // Time for a wrong retry to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = am.of_alert(alert.id.as_str());
    let phases: Vec<&str> = got
        .iter()
        .map(|r| r["phase"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(phases, ["start", "update"], "each sent once: {got:#?}");
    for row in acm_rows(&rows) {
        assert_eq!(row.tries, 1, "{row:?}");
        assert_eq!(
            row.error.as_deref(),
            Some("alert manager error: unknown patient"),
            "{row:?}"
        );
        let receipt = row.provider_id.as_deref().unwrap_or("");
        assert!(
            receipt.starts_with("ORA^R41^ORA_R41 error"),
            "the PCD-05 is on the row: {row:?}"
        );
    }
    assert_eq!(replies(&h, "error").await, 2.0);
    assert_eq!(replies(&h, "reject").await, 0.0);
}

/// A reject (AR) is the manager's own trouble and may pass: the change is sent again
/// with backoff, under the same MSH-10, but `max_rejects` times at most; then it is
/// failed for good and does not hold the alarm's later changes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reject_is_retried_up_to_max_rejects_and_then_given_up() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let am = AlertManager::start_with(
        free_port(),
        &h.dir.path().join("am.jsonl"),
        &["--answer", "AR"],
    );
    let (patient, _) = h.chain(&["+15005550115"]).await;
    h.spawn(&Tuning {
        extra: format!(
            "[routing]\nhigh = [\"in_app\"]\n[reliability]\nretry_base_ms = 100\nretry_max_ms = 200\n{}",
            manager("ward-3", am.port, "max_rejects = 3")
        ),
        ..Tuning::default()
    });
    let alert = h.fire(&patient.id, Priority::High).await;
    let rows = h
        .wait_deliveries(&alert.id, "start given up after three rejects", |rows| {
            acm_rows(rows)
                .first()
                .is_some_and(|d| d.status == DeliveryStatus::Failed && d.next_try_ns.is_none())
        })
        .await;
    let start = acm_rows(&rows)[0].clone();
    assert_eq!(start.tries, 3, "{start:?}");
    assert_eq!(
        start.error.as_deref(),
        Some("alert manager rejected: busy, try later")
    );
    assert!(
        start
            .provider_id
            .as_deref()
            .is_some_and(|r| r.starts_with("ORA^R41^ORA_R41 reject")),
        "{start:?}"
    );
    h.stores
        .records
        .acknowledge_alert(&alert.id, "dr-acm", now_ns())
        .await
        .expect("ack");
    h.wait_deliveries(
        &alert.id,
        "the acknowledgement goes after the given-up start",
        |rows| acm_rows(rows).len() == 2,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let starts: Vec<Value> = am
        .of_alert(alert.id.as_str())
        .into_iter()
        .filter(|r| r["phase"] == "start")
        .collect();
    assert_eq!(starts.len(), 3, "three sends, no fourth: {starts:#?}");
    assert!(
        starts
            .iter()
            .all(|r| r["control_id"] == starts[0]["control_id"]),
        "one message, sent again: {starts:#?}"
    );
    assert!(
        replies(&h, "reject").await >= 4.0,
        "three starts and the acknowledgement"
    );
    assert_eq!(replies(&h, "error").await, 0.0);
}

/// MLLP over TLS: the manager serves a certificate of the test's own CA (the one the
/// notifier is given as `tls_ca_file`) with TLS 1.2 as its floor; the reports arrive
/// over TLS 1.2 or 1.3. A second manager whose certificate comes from another CA is
/// refused at the handshake, receives nothing and is reported down
/// (`cw_notifier_alert_managers_down`, the gauge `CardiowatchAlertManagerDown` alerts on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_go_over_tls_and_a_manager_with_a_foreign_certificate_is_refused() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    // The harness's own CA and server certificate (`ca_cert` is what the notifier trusts).
    let ours = cw_tls::ensure_dev_certs(&h.dir.path().join("certs")).expect("our certs");
    let foreign =
        cw_tls::ensure_dev_certs(&h.dir.path().join("foreign")).expect("another CA and server");
    let tls_of = |certs: &cw_tls::DevCerts| {
        [
            certs.server_cert.display().to_string(),
            certs.server_key.display().to_string(),
        ]
    };
    let [cert, key] = tls_of(&ours);
    let am = AlertManager::start_with(
        free_port(),
        &h.dir.path().join("am.jsonl"),
        &["--tls", &cert, &key],
    );
    let [cert, key] = tls_of(&foreign);
    let impostor = AlertManager::start_with(
        free_port(),
        &h.dir.path().join("impostor.jsonl"),
        &["--tls", &cert, &key],
    );
    let (patient, _) = h.chain(&["+15005550116"]).await;
    let ca = format!("tls_ca_file = \"{}\"", h.ca_cert.display());
    h.spawn(&Tuning {
        extra: format!(
            "[routing]\nhigh = [\"in_app\"]\n{}{}",
            manager("ward-3", am.port, &ca),
            manager("ward-4", impostor.port, &ca)
        ),
        ..Tuning::default()
    });
    let alert = h.fire(&patient.id, Priority::High).await;
    h.wait_deliveries(&alert.id, "start answered over TLS", |rows| {
        acm_rows(rows)
            .iter()
            .any(|d| d.recipient.as_str() == "ward-3" && d.status == DeliveryStatus::Delivered)
    })
    .await;
    let got = am.of_alert(alert.id.as_str());
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        matches!(got[0]["tls"].as_str(), Some("TLSv1.2" | "TLSv1.3")),
        "{got:#?}"
    );
    assert_eq!(got[0]["problems"], serde_json::json!([]));
    wait_down(&h, 1.0).await;
    let log = h.log();
    assert!(
        log.contains("alert manager unreachable") && log.contains("ward-4") && log.contains("TLS"),
        "the refused handshake is logged:\n{log}"
    );
    assert!(
        impostor.received().is_empty(),
        "nothing reached the impostor"
    );
    let rows = h.deliveries(&alert.id).await;
    assert!(
        acm_rows(&rows)
            .iter()
            .all(|d| d.recipient.as_str() != "ward-4" || d.status != DeliveryStatus::Delivered),
        "{rows:#?}"
    );
}

/// The whole chain: a gateway streams MIT-BIH record 100 through ingest, the bus and the
/// engine (heart-rate limit 70 bpm, so it fires), and the notifier reports the alarm the
/// engine raised to the alert manager; the doctor's acknowledgement through the REST api
/// follows as the next change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_alarm_reaches_the_alert_manager_with_its_acknowledgement() {
    streamed_alarm(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_alarm_reaches_the_alert_manager_on_influxdb_and_mongodb() {
    streamed_alarm(Mode::Servers).await;
}

async fn streamed_alarm(mode: Mode) {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(mode).await;
    let am = AlertManager::start(free_port(), &system.dir().join("am.jsonl"));
    let fixture = crate::pipeline::install_fixture(&system, "dr-acm@hospital.test").await;
    system.notifier_extra = manager("ward-3", am.port, "");
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;
    crate::pipeline::stream(&system, &fixture).await;

    let patient = fixture.patient.id.as_str();
    let deadline = Instant::now() + Duration::from_secs(30);
    let start = loop {
        let reports = am.received();
        // The heart-rate alarm's start (its MDC event first, the rule as the local code).
        if let Some(r) = reports.iter().find(|r| {
            r["patient"] == patient
                && r["phase"] == "start"
                && r["event"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("196648^MDC_EVT_HI^MDC^hr_high^"))
        }) {
            break r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no start at the alert manager: {reports:#?}\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(start["problems"], serde_json::json!([]), "{start}");
    assert_eq!(
        (start["state"].as_str(), start["priority"].as_str()),
        (Some("active"), Some("PH"))
    );
    let alert = start["alert"].as_str().expect("OBR-3").to_owned();
    let stored = system
        .stores
        .records
        .get_alert(&cw_core::AlertId::parse(&alert).expect("alert id"))
        .await
        .expect("OBR-3 names the stored alert");
    assert_eq!(stored.patient.as_str(), patient);

    let token = cw_api::token::issue(
        system.jwt_secret.as_bytes(),
        "cardiowatch",
        &fixture.doctor.id,
        cw_core::Role::Doctor,
        300,
    )
    .expect("token");
    let acked = system
        .https()
        .post(system.api_url(&format!("/v1/alerts/{alert}/ack")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api answers");
    assert_eq!(acked.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !am
        .of_alert(&alert)
        .iter()
        .any(|r| r["inactivation"] == "alert-acknowledged")
    {
        assert!(
            Instant::now() < deadline,
            "the acknowledgement did not reach the alert manager: {:#?}\n{}",
            am.of_alert(&alert),
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for record in am.received() {
        assert_eq!(record["problems"], serde_json::json!([]), "{record}");
    }
}

/// An alarm that ended while no notifier ran: the restarted notifier finds it in the
/// store (resolved within the last day, its start reported, its end not), not in a
/// memory it no longer has, and reports the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_that_ended_while_no_notifier_ran_has_its_end_reported_after_restart() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let am = AlertManager::start(free_port(), &h.dir.path().join("am.jsonl"));
    let (patient, _) = h.chain(&["+15005550117"]).await;
    h.spawn(&tuning(am.port, ""));
    let alert = h.fire(&patient.id, Priority::High).await;
    h.wait_deliveries(&alert.id, "start answered", |rows| delivered(rows, 1))
        .await;
    h.kill();
    h.stores
        .records
        .resolve_alert(&alert.id, now_ns())
        .await
        .expect("resolved while no notifier runs");

    h.spawn(&tuning(am.port, ""));
    h.wait_deliveries(&alert.id, "end answered after the restart", |rows| {
        delivered(rows, 2)
    })
    .await;
    let phases: Vec<String> = am
        .of_alert(alert.id.as_str())
        .iter()
        .map(|r| r["phase"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(phases, ["start", "end"]);
    assert!(
        h.log().contains("alarms that ended while no notifier ran"),
        "{}",
        h.log()
    );
}
