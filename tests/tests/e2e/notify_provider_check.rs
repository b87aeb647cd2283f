//! Provider checks at start-up (docs/operations.md): the notifier reads Twilio's account
//! and lists SES identities through its real clients before the first page. A provider
//! nothing answers at is named in the log with its URL and the remedy, is counted, and
//! does not stop the notifier paging by its other channels.

use cw_core::{Channel, DeliveryStatus, Priority, User};
use cw_e2e::env::{free_port, required};
use cw_e2e::notifier::{AUTH_TOKEN, NotifierHarness, Tuning, moto_mails_to, moto_ses_section};
use cw_e2e::system::Mode;

/// The log line of `provider`'s check (`"ok"` or `"failed"`), waiting for it: the
/// checks run in the background after start-up.
async fn check_line(h: &mut NotifierHarness, provider: &str, outcome: &str) -> String {
    let needle = format!("provider start-up check {outcome}");
    let provider = format!("provider=\"{provider}\"");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(line) = h
            .log()
            .lines()
            .map(without_colours)
            .find(|l| l.contains(&needle) && l.contains(&provider))
        {
            return line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {provider} check {outcome} line; log:\n{}",
            h.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The log's line without the terminal colour codes around its fields (`ESC[…m`).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_twilio_is_named_with_its_url_and_remedy_and_email_still_pages() {
    let ses_url = required("CW_TEST_SES_URL");
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    // A port nothing listens on; the password in it must not reach the log either.
    let port = free_port();
    let ses = moto_ses_section(&ses_url, "alerts@provider-check.test").await;
    h.spawn(&Tuning {
        extra: ses,
        twilio_base_url: Some(format!("http://AC1:url-password@127.0.0.1:{port}")),
        ..Tuning::default()
    });
    h.wait_ready().await;

    let line = check_line(&mut h, "twilio", "failed").await;
    for want in [
        format!("http://127.0.0.1:{port}/"),
        "unreachable".to_owned(),
        "twilio.base_url".to_owned(),
    ] {
        assert!(line.contains(&want), "{want:?} not in {line}");
    }
    check_line(&mut h, "ses", "ok").await;
    h.wait_metric("cw_notifier_provider_checks_total{outcome=\"failed\"}", 1.0)
        .await;
    h.wait_metric("cw_notifier_provider_checks_total{outcome=\"ok\"}", 1.0)
        .await;

    // Still pages: a doctor with a phone and an email gets the email.
    let (patient, doctors) = h.chain(&["+15005550010"]).await;
    let email = format!("dr-{}@provider-check.test", doctors[0].id);
    let doctor = User {
        email: Some(email.clone()),
        ..doctors[0].clone()
    };
    h.stores.records.put_user(&doctor).await.expect("doctor");
    let alert = h.fire(&patient.id, Priority::High).await;
    h.wait_deliveries(&alert.id, "the email page", |rows| {
        rows.iter()
            .any(|d| d.channel == Channel::Email && d.status == DeliveryStatus::Sent)
    })
    .await;
    let mails = moto_mails_to(&ses_url, &email).await;
    assert_eq!(mails.len(), 1, "one email: {mails:#?}");

    let log = h.log();
    for secret in [AUTH_TOKEN, "url-password"] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_providers_pass_their_start_up_checks() {
    let ses_url = required("CW_TEST_SES_URL");
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let ses = moto_ses_section(&ses_url, "alerts@provider-check.test").await;
    h.spawn(&Tuning {
        extra: ses,
        ..Tuning::default()
    });
    h.wait_ready().await;
    let twilio = check_line(&mut h, "twilio", "ok").await;
    assert!(twilio.contains(&h.sandbox.base_url()), "{twilio}");
    let ses = check_line(&mut h, "ses", "ok").await;
    assert!(ses.contains(&ses_url), "{ses}");
    h.wait_metric("cw_notifier_provider_checks_total{outcome=\"ok\"}", 2.0)
        .await;
    assert!(
        !h.log().contains("provider start-up check failed"),
        "{}",
        h.log()
    );
}
