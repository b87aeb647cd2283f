//! The console's alarm actions in a real Chromium (docs/console.md), against the four
//! service processes and the Twilio sandbox: acknowledging in the worklist stops the
//! escalation — counted at the sandbox, no SMS or call to the next doctor after the
//! ack deadline passed, while an unacknowledged twin alarm of the same chain escalates
//! at that deadline (the signal that it passed and the notifier was paging); "Escalate
//! now" in the worklist pages the next doctor within seconds of a ten-minute deadline;
//! a triage from the worklist and one with a note from the alert detail are stored and
//! counted in the fatigue report. Screenshots under `target/screenshots/`.

use crate::console_harness::{admin_call, sign_in};
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{Alert, Patient, Priority, Role, RuleKind, User, UserId};
use cw_e2e::system::{Mode, Providers, System};
use cw_e2e::webdriver::{Browser, screenshot_path};
use cw_sandbox::TwilioSandbox;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const DOCTOR: &str = "dr-actions-a";
const NEXT_DOCTOR: &str = "dr-actions-b";
const PHONE: &str = "+15005550181";
const NEXT_PHONE: &str = "+15005550182";
const PASSWORD: &str = "console actions password 1";
/// High alarms escalate after this (the notifier's `ack_deadline_s.high` in this test):
/// long enough for the row to reach the page and be clicked, short for a test.
const HIGH_ACK_DEADLINE_S: i64 = 15;

fn token(system: &System, user: &str, role: Role) -> String {
    cw_api::token::issue(
        system.jwt_secret.as_bytes(),
        "cardiowatch",
        &UserId::parse(user).expect("id"),
        role,
        600,
    )
    .expect("token")
}

/// SMS and calls the sandbox received for `to` about `alert` (its id is in each page).
fn pages(sandbox: &TwilioSandbox, to: &str, alert: &Alert) -> (usize, usize) {
    let id = alert.id.as_str();
    let sms = sandbox
        .messages()
        .iter()
        .filter(|m| m.to == to && m.body.contains(id))
        .count();
    let calls = sandbox
        .calls()
        .iter()
        .filter(|c| c.to == to && c.twiml.as_deref().is_some_and(|t| t.contains(id)))
        .count();
    (sms, calls)
}

/// Polls the sandbox until `done` holds (or panics after `timeout`, with the logs).
async fn wait_pages(
    system: &System,
    what: &str,
    timeout: Duration,
    done: impl Fn() -> bool,
) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "waited {timeout:?} for {what}; logs:\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

async fn row_ready(browser: &Browser, alert: &Alert) {
    browser
        .wait_for(
            &format!("the worklist row of {}", alert.id),
            "return document.querySelector(`tr[data-alert-id=\"${arguments[0]}\"] button.ack`)",
            json!([alert.id.as_str()]),
            Duration::from_secs(10),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledging_in_the_console_stops_the_escalation_escalate_now_pages_the_next_doctor_and_triage_reaches_the_fatigue_report()
 {
    let sandbox = TwilioSandbox::start(0).await.expect("twilio sandbox");
    let mut system = System::prepare(Mode::Embedded).await;
    system.notifier_extra = format!(
        "[reliability]\nack_deadline_s = {{ high = {HIGH_ACK_DEADLINE_S}, medium = 600, low = 0 }}\n"
    );
    let mut chain = Vec::new();
    for (id, phone) in [(DOCTOR, PHONE), (NEXT_DOCTOR, NEXT_PHONE)] {
        let user = User {
            id: UserId::parse(id).expect("id"),
            role: Role::Doctor,
            phone: Some(phone.into()),
            email: None,
            notify: Default::default(),
            disabled: None,
            sessions: Default::default(),
        };
        system.stores.records.put_user(&user).await.expect("user");
        chain.push(user.id);
    }
    let chain: Vec<&UserId> = chain.iter().collect();
    // Three patients of the same two doctors (one open alarm per patient and rule).
    let patients: Vec<Patient> = (0..3).map(|_| cw_e2e::api::patient(&chain)).collect();
    for p in &patients {
        system.stores.records.put_patient(p).await.expect("patient");
    }
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;
    admin_call(
        &system,
        reqwest::Method::PUT,
        &format!("/v1/users/{DOCTOR}/login"),
        json!({"role": "doctor", "password": PASSWORD}),
    )
    .await;

    let browser = Browser::start(1400, 1000).await;
    sign_in(&browser, &system.api_url("/console/"), DOCTOR, PASSWORD).await;
    browser
        .wait_for(
            "the worklist watching its patients",
            "const t = document.getElementById('worklist');
             return t && t.dataset.ready === '1' && t.dataset.live === '1';",
            json!([]),
            Duration::from_secs(15),
        )
        .await;

    // Two high alarms of the same chain at the same instant, and a medium one; they reach
    // the open page through its live socket.
    let fired = now_ns();
    let high = |patient: &Patient| Alert {
        value: 150.0,
        limit: 120.0,
        policy_version: 1,
        ..Alert::firing(patient.id.clone(), RuleKind::HrHigh, Priority::High, fired)
    };
    let (acked, twin) = (high(&patients[0]), high(&patients[1]));
    let medium = Alert {
        value: 3.4,
        limit: 3.0,
        policy_version: 1,
        ..Alert::firing(
            patients[2].id.clone(),
            RuleKind::Pause,
            Priority::Medium,
            fired,
        )
    };
    for alert in [&acked, &twin, &medium] {
        system
            .stores
            .records
            .open_alert(alert)
            .await
            .expect("alert");
    }
    for alert in [&acked, &twin, &medium] {
        row_ready(&browser, alert).await;
    }
    wait_pages(
        &system,
        "the first doctor's SMS of each alarm",
        Duration::from_secs(10),
        || {
            [&acked, &twin, &medium]
                .iter()
                .all(|a| pages(&sandbox, PHONE, a).0 >= 1)
        },
    )
    .await;

    // Acknowledge one high alarm in the worklist, well before its ack deadline.
    browser
        .click(&format!("tr[data-alert-id=\"{}\"] button.ack", acked.id))
        .await;
    browser
        .wait_for(
            "the row to show the acknowledgement",
            "const r = document.querySelector(`tr[data-alert-id=\"${arguments[0]}\"]`);
             return r && r.dataset.state === 'acknowledged';",
            json!([acked.id.as_str()]),
            Duration::from_secs(10),
        )
        .await;
    let stored = system
        .stores
        .records
        .get_alert(&acked.id)
        .await
        .expect("alert");
    assert_eq!(stored.acked_by.as_deref(), Some(DOCTOR));
    let acked_after_s = (stored.acked_ns.expect("acked") - fired) as f64 / NANOS_PER_SEC as f64;
    assert!(
        acked_after_s < HIGH_ACK_DEADLINE_S as f64 - 2.0,
        "acknowledged {acked_after_s:.1} s after firing: too close to the deadline to prove anything"
    );
    let first_doctor_pages = pages(&sandbox, PHONE, &acked);

    // The twin's escalation to the next doctor is the signal that the deadline passed and
    // the notifier was paging: SMS and call at the sandbox.
    wait_pages(
        &system,
        "the unacknowledged twin's escalation to the next doctor",
        Duration::from_secs(HIGH_ACK_DEADLINE_S as u64 + 20),
        || {
            let (sms, calls) = pages(&sandbox, NEXT_PHONE, &twin);
            sms >= 1 && calls >= 1
        },
    )
    .await;
    let twin_escalated_s = (now_ns() - fired) as f64 / NANOS_PER_SEC as f64;
    // Two more sweeps (1 s each) after the twin's: the acked alarm paged nobody new.
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        assert_eq!(
            pages(&sandbox, NEXT_PHONE, &acked),
            (0, 0),
            "the next doctor was paged for an acknowledged alarm"
        );
        assert_eq!(
            pages(&sandbox, PHONE, &acked),
            first_doctor_pages,
            "the first doctor was paged again after the ack"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "acknowledged in the page {acked_after_s:.1} s after firing; the twin escalated at \
         {twin_escalated_s:.1} s (deadline {HIGH_ACK_DEADLINE_S} s); the acked alarm: 0 SMS and \
         0 calls to the next doctor, checked until {:.1} s",
        (now_ns() - fired) as f64 / NANOS_PER_SEC as f64
    );

    // Escalate now, from the worklist: the medium alarm's deadline is ten minutes away,
    // yet the next doctor's phone gets its SMS within seconds.
    assert_eq!(pages(&sandbox, NEXT_PHONE, &medium), (0, 0));
    let asked = Instant::now();
    browser
        .click(&format!(
            "tr[data-alert-id=\"{}\"] button.escalate",
            medium.id
        ))
        .await;
    wait_pages(
        &system,
        "the next doctor's page after Escalate now",
        Duration::from_secs(10),
        || pages(&sandbox, NEXT_PHONE, &medium).0 >= 1,
    )
    .await;
    let escalated_s = asked.elapsed().as_secs_f64();
    println!(
        "Escalate now clicked: the next doctor's SMS reached the sandbox {escalated_s:.2} s later"
    );
    browser
        .wait_for(
            "step 2 in the escalation column",
            "const c = document.querySelector(`tr[data-alert-id=\"${arguments[0]}\"] td.escalation`);
             return c && c.textContent.startsWith('step 2') ? c.textContent : null;",
            json!([medium.id.as_str()]),
            Duration::from_secs(20),
        )
        .await;
    let stored = system
        .stores
        .records
        .get_alert(&medium.id)
        .await
        .expect("alert");
    let request = stored.escalation.expect("the request is on the alert");
    assert_eq!((request.level, request.by.as_str()), (2, DOCTOR));
    browser
        .screenshot(&screenshot_path("console-escalation.png"))
        .await;

    // Triage from the worklist: the acknowledged alarm was a false one.
    browser
        .click(&format!(
            "tr[data-alert-id=\"{}\"] select.triage-verdict option[value=\"false\"]",
            acked.id
        ))
        .await;
    browser
        .click(&format!("tr[data-alert-id=\"{}\"] button.triage", acked.id))
        .await;
    browser
        .wait_for(
            "the verdict in the worklist row",
            "const c = document.querySelector(`tr[data-alert-id=\"${arguments[0]}\"] td.state`);
             return c && c.dataset.verdict === 'false' ? c.textContent : null;",
            json!([acked.id.as_str()]),
            Duration::from_secs(10),
        )
        .await;
    let stored = system
        .stores
        .records
        .get_alert(&acked.id)
        .await
        .expect("alert");
    let verdict = stored.triage.expect("stored");
    assert_eq!(
        (verdict.verdict, verdict.by.as_str()),
        (cw_core::triage::Verdict::False, DOCTOR)
    );

    // Triage with a note on the twin's alert detail page.
    browser
        .click(&format!(
            "tr[data-alert-id=\"{}\"] a[href*=\"/alert/\"]",
            twin.id
        ))
        .await;
    browser
        .wait_for(
            "the alert detail's triage form",
            "return document.getElementById('triage-save')",
            json!([]),
            Duration::from_secs(10),
        )
        .await;
    browser
        .click("#triage-verdict option[value=\"artifact\"]")
        .await;
    browser
        .type_into("#triage-note", "motion artefact, patient walking")
        .await;
    browser.click("#triage-save").await;
    browser
        .wait_for(
            "the verdict on the alert detail",
            "const p = document.getElementById('triage-shown');
             return p && p.dataset.verdict === 'artifact' ? p.textContent : null;",
            json!([]),
            Duration::from_secs(10),
        )
        .await;
    browser
        .screenshot(&screenshot_path("console-triage.png"))
        .await;
    let stored = system
        .stores
        .records
        .get_alert(&twin.id)
        .await
        .expect("alert");
    let verdict = stored.triage.expect("stored");
    assert_eq!(verdict.verdict, cw_core::triage::Verdict::Artifact);
    assert_eq!(
        verdict.note.as_deref(),
        Some("motion artefact, patient walking")
    );

    // Both verdicts are in the doctor's fatigue report: 2 of 2 triaged hr_high alarms false.
    let report: Value = system
        .https()
        .get(system.api_url("/v1/reports/fatigue?days=1"))
        .bearer_auth(token(&system, DOCTOR, Role::Doctor))
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("json");
    let hr_high = report["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["rule"] == "hr_high"))
        .unwrap_or_else(|| panic!("no hr_high row: {report}"));
    assert_eq!(
        hr_high,
        &json!({"rule": "hr_high", "alarms": 2, "triaged": 2, "confirmed": 0, "artifact": 1,
                "false_alarms": 1, "false_alarm_rate": 1.0}),
        "{report}"
    );
}
