//! Who has been paged by what channel, live on the worklist (issue 16 item 3; docs/live.md,
//! "Worklist socket"): record 100 streamed at real time raises the HR alarm, the notifier
//! pages the doctor by SMS at the Twilio sandbox, and the page's delivery row reaches the
//! doctor's worklist socket (`GET /v1/alerts/live`) with its channel and escalation step,
//! and the open worklist in Chromium shows "by sms" in the row without a reload — the page
//! no longer reads deliveries per alarm (none in the audit chain). The four service
//! processes on the embedded store; screenshot `target/screenshots/console-worklist-paged.png`.

use crate::console_harness::{Console, admin_call, sign_in};
use cardiowatch::fixture::FixtureSpec;
use cw_e2e::live::{Auth, open_worklist, read_until};
use cw_e2e::webdriver::{Browser, screenshot_path};
use serde_json::{Value, json};
use std::time::Duration;

const PATIENT: &str = "e2e-console-pages";
const DOCTOR: &str = "dr-console-pages";
const PHONE: &str = "+15005550177";
const PASSWORD: &str = "worklist pages password 1";

#[tokio::test(flavor = "multi_thread")]
async fn console_worklist_a_streamed_alarms_sms_page_reaches_the_socket_and_the_open_row() {
    let mut stack = Console::prepare(&FixtureSpec {
        patient_id: PATIENT,
        doctor_id: DOCTOR,
        device_id: "gw-console-pages",
        phone: Some(PHONE),
        email: None,
        hr_high_bpm: 70.0,
        for_s: 2.0,
    })
    .await;
    stack.start().await;
    let system = &stack.system;
    admin_call(
        system,
        reqwest::Method::PUT,
        &format!("/v1/users/{DOCTOR}/login"),
        json!({"role": "doctor", "password": PASSWORD}),
    )
    .await;
    let signed_in: Value = system
        .https()
        .post(system.api_url("/v1/auth/login"))
        .json(&json!({"user": DOCTOR, "password": PASSWORD}))
        .send()
        .await
        .expect("api answers")
        .json()
        .await
        .expect("tokens");
    let token = signed_in["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {signed_in}"))
        .to_owned();
    let (mut socket, _) =
        open_worklist(system.api_port, &system.ca_cert, Auth::Subprotocol(&token))
            .await
            .expect("the doctor's worklist socket opens");
    let hello = read_until(&mut socket, Duration::from_secs(5), "the greeting", |m| {
        m["type"] == "hello"
    })
    .await;
    assert_eq!(hello[0]["patients"], 1, "{hello:?}");

    let browser = Browser::start(1400, 900).await;
    let console = system.api_url("/console/");
    sign_in(&browser, &console, DOCTOR, PASSWORD).await;

    let (gateway, streaming) = stack.stream_record_100(60.0);
    let fired = read_until(&mut socket, Duration::from_secs(60), "the HR alarm", |m| {
        m["type"] == "alert" && m["alert"]["rule"] == "hr_high"
    })
    .await;
    let alert = fired.last().expect("the alarm")["alert"].clone();
    let alert_id = alert["id"].as_str().expect("alert id").to_owned();
    let paged = read_until(
        &mut socket,
        Duration::from_secs(30),
        "the SMS page on the socket",
        |m| {
            m["type"] == "delivery"
                && m["delivery"]["alert"] == alert_id.as_str()
                && m["delivery"]["channel"] == "sms"
                && (m["delivery"]["status"] == "sent" || m["delivery"]["status"] == "delivered")
        },
    )
    .await;
    let told_at = cw_core::time::now_ns();
    let page = paged.last().expect("the page")["delivery"].clone();
    assert_eq!(page["recipient"], DOCTOR, "{page}");
    assert_eq!(page["attempt"], 1, "the first escalation step: {page}");
    let provider_id = page["provider_id"]
        .as_str()
        .expect("provider id")
        .to_owned();
    let at_sandbox = stack
        .sandbox
        .messages()
        .into_iter()
        .find(|m| m.sid == provider_id)
        .unwrap_or_else(|| panic!("the socket's SMS {provider_id} is not at the sandbox"));
    assert_eq!(at_sandbox.to, PHONE);
    assert!(at_sandbox.body.contains(&alert_id), "{}", at_sandbox.body);
    let lag_s = (told_at - page["updated_ns"].as_i64().expect("updated_ns")) as f64 / 1e9;
    println!("the SMS page reached the worklist socket {lag_s:.2} s after the notifier stored it");
    assert!(
        paged
            .iter()
            .filter(|m| m["type"] == "delivery")
            .all(|m| m["delivery"]["alert"] == alert_id.as_str()),
        "only this patient's alarm was paged: {paged:?}"
    );

    // The open page shows it in the row, from the socket (the page reads no deliveries).
    let shown = browser
        .wait_for(
            "the SMS page in the row's escalation column",
            "const c = document.querySelector(`tr[data-alert-id=\"${arguments[0]}\"] td.escalation`);
             return c && c.textContent.includes(`${arguments[1]} by sms`) ? c.textContent : null;",
            json!([alert_id, DOCTOR]),
            Duration::from_secs(5),
        )
        .await;
    assert!(
        shown.as_str().is_some_and(|t| t.starts_with("step 1")),
        "{shown}"
    );
    browser
        .screenshot(&screenshot_path("console-worklist-paged.png"))
        .await;
    streaming.cancel();
    let _ = gateway.await;

    let audit = system
        .stores
        .records
        .audit_events(1, 100_000)
        .await
        .expect("audit");
    let per_alarm: Vec<_> = audit
        .iter()
        .filter(|e| e.entry.actor == DOCTOR && e.entry.action.ends_with("/deliveries"))
        .map(|e| e.entry.action.clone())
        .collect();
    assert!(
        per_alarm.is_empty(),
        "the worklist read deliveries per alarm: {per_alarm:?}"
    );
    assert!(
        audit
            .iter()
            .any(|e| e.entry.actor == DOCTOR && e.entry.action == "GET /v1/alerts/live"),
        "the worklist socket is audited"
    );
}
