//! Provider failover, counted at the far ends: Twilio is down (every request 503), and a
//! medium alert routed to SMS only reaches its doctor by EMAIL — one mail at moto's SES —
//! while Twilio records nothing; when Twilio is back the SMS goes too, once.

use cw_core::{Channel, DeliveryStatus, Priority};
use cw_e2e::env::required;
use cw_e2e::notifier::{NotifierHarness, Tuning, moto_mails_to, moto_ses_section};
use cw_e2e::system::Mode;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_failover_from_a_down_twilio_to_email_counted_at_moto() {
    let ses_url = required("CW_TEST_SES_URL");
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    h.sandbox.fail_all(Some(503));
    let (patient, users) = h.chain(&["+15005550207"]).await;
    let email = format!("dr-{}@failover.test", users[0].id);
    let mut doctor = users[0].clone();
    doctor.email = Some(email.clone());
    h.stores.records.put_user(&doctor).await.expect("email");
    let alert = h.fire(&patient.id, Priority::Medium).await;
    let ses = moto_ses_section(&ses_url, "alerts@failover.test").await;
    h.spawn(&Tuning {
        extra: format!(
            r#"[routing]
high = ["sms", "voice", "email", "in_app"]
medium = ["sms"]
low = ["in_app"]
[reliability]
retry_base_ms = 100
retry_max_ms = 400
max_tries = 50
breaker_failures = 2
breaker_open_ms = 1500
{ses}"#
        ),
        ..Tuning::default()
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    let mails = loop {
        let mails = moto_mails_to(&ses_url, &email).await;
        if !mails.is_empty() {
            break mails;
        }
        assert!(
            Instant::now() < deadline,
            "no failover mail at moto; rows: {:#?}\nlog:\n{}",
            h.deliveries(&alert.id).await,
            h.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        mails[0].to_string().contains(alert.id.as_str()),
        "the mail names the alert: {}",
        mails[0]
    );
    assert!(h.sandbox.messages().is_empty(), "Twilio accepted nothing");
    assert!(h.sandbox.refused() > 0, "the SMS was tried first");
    let rows = h
        .wait_deliveries(&alert.id, "email recorded as sent", |rows| {
            rows.iter()
                .any(|d| d.channel == Channel::Email && d.status == DeliveryStatus::Sent)
        })
        .await;
    assert!(
        rows.iter()
            .any(|d| d.channel == Channel::Sms && d.status == DeliveryStatus::Failed),
        "{rows:#?}"
    );

    // Twilio back: the SMS goes once; the failover mail is not repeated.
    h.sandbox.fail_all(None);
    let messages = h
        .sandbox
        .wait_for_messages(1, Duration::from_secs(20))
        .await;
    assert_eq!(messages.len(), 1, "sms after recovery; log:\n{}", h.log());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.sandbox.messages().len(), 1);
    assert_eq!(
        moto_mails_to(&ses_url, &email).await.len(),
        1,
        "one failover mail"
    );
}
