//! Pages carry the evidence (issues 16 item 7, 17 item 5; docs/console.md "Deep links"):
//! the SMS that reaches the Twilio sandbox links to the alert in the console and carries
//! its page code. (That no patient name reaches a phone is checked in
//! `console_browser.rs`, where a patient with a name exists.)

use cw_core::Priority;
use cw_e2e::notifier::{NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use std::time::Duration;

const CONSOLE: &str = "https://cardiowatch.hospital.test:8444/console/";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_page_links_to_its_alert_in_the_console_and_carries_its_code() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, _) = h.chain(&["+15005550601"]).await;
    let alert = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&Tuning {
        console_url: Some(CONSOLE.to_owned()),
        ..Tuning::default()
    });
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(messages.len(), 1, "log:\n{}", h.log());
    let body = &messages[0].body;
    let link = format!("{CONSOLE}#/patient/{}/alert/{}", patient.id, alert.id);
    assert!(body.contains(&format!(" {link} ")), "{body}");
    let rows = h.deliveries(&alert.id).await;
    let sms = rows
        .iter()
        .find(|d| d.channel == cw_core::Channel::Sms)
        .expect("the SMS row");
    assert_eq!(
        cw_notifier::message::code_in_sms(body),
        Some(sms.page_code().as_str()),
        "{body}"
    );
    assert!(
        body.chars().count() <= cw_notifier::message::SMS_MAX_CHARS,
        "{body}"
    );
    assert!(body.contains("150 bpm (limit 120 bpm)"), "{body}");
}
