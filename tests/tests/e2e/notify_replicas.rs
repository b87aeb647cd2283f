//! Any number of notifiers: two notifier processes on one store race for every outbox
//! row (both sweep every 200 ms; the first tries fail on both providers, so retries race
//! too). Counted at the emulators, each (alert, channel, recipient) reached its far end
//! once: one SMS and one call per doctor at the Twilio sandbox, with no request repeated
//! under a used idempotency token, and one email per doctor at moto's SES (which has no
//! such token: a second request would be a second mail).

use cw_core::{Channel, DeliveryStatus, Priority};
use cw_e2e::env::required;
use cw_e2e::notifier::{NotifierHarness, Tuning, moto_mails_to, moto_ses_section};
use cw_e2e::system::Mode;
use cw_e2e::tcp_proxy::{TcpProxy, host_port};
use std::time::{Duration, Instant};

const ALERTS: usize = 8;

async fn two_notifiers_send_each_page_once(mode: Mode) {
    let ses_url = required("CW_TEST_SES_URL");
    let link = TcpProxy::start(host_port(&ses_url));
    let mut h = NotifierHarness::new(mode).await;
    let ses = moto_ses_section(&format!("http://{}", link.addr), "alerts@replicas.test").await;
    let mut burst = Vec::new();
    for i in 0..ALERTS {
        let phone = format!("+1500555{:04}", 3000 + i);
        let (patient, users) = h.chain(&[phone.as_str()]).await;
        let email = format!("dr-{}@replicas.test", users[0].id);
        let doctor = cw_core::User {
            email: Some(email.clone()),
            ..users[0].clone()
        };
        h.stores.records.put_user(&doctor).await.expect("email");
        burst.push((patient, phone, email));
    }
    // Both providers refuse at first, so every provider row is retried by whichever
    // notifier gets to it first.
    h.sandbox.fail_next(2 * ALERTS as u32, 503);
    link.cut();
    let tuning = Tuning {
        extra: format!(
            "[reliability]\nretry_base_ms = 100\nretry_max_ms = 400\nbreaker_failures = 1000\n{ses}"
        ),
        ..Tuning::default()
    };
    h.spawn(&tuning);
    h.spawn_replica(&tuning);
    let mut alerts = Vec::new();
    for (patient, _, _) in &burst {
        alerts.push(h.fire(&patient.id, Priority::High).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    link.restore();

    let deadline = Instant::now() + Duration::from_secs(60);
    for alert in &alerts {
        loop {
            let rows = h.deliveries(&alert.id).await;
            let sent = |ch: Channel| {
                rows.iter()
                    .any(|d| d.channel == ch && d.status == DeliveryStatus::Sent)
            };
            if sent(Channel::Sms) && sent(Channel::Voice) && sent(Channel::Email) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "alert {} not fully sent; rows: {rows:#?}\nfirst notifier:\n{}\nsecond:\n{}",
                alert.id,
                h.log(),
                h.replica_logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Time for a late duplicate to show itself.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(h.sandbox.refused() > 0, "the first tries were refused");
    let (messages, calls) = (h.sandbox.messages(), h.sandbox.calls());
    for (_, phone, email) in &burst {
        let to_phone = |to: &str| to == phone;
        assert_eq!(
            messages.iter().filter(|m| to_phone(&m.to)).count(),
            1,
            "one SMS to {phone}"
        );
        assert_eq!(
            calls.iter().filter(|c| to_phone(&c.to)).count(),
            1,
            "one call to {phone}"
        );
        assert_eq!(
            moto_mails_to(&ses_url, email).await.len(),
            1,
            "one email to {email}"
        );
    }
    assert_eq!(
        h.sandbox.replayed(),
        0,
        "no provider request was made twice for one row"
    );
    assert!(
        h.is_running() && h.replicas.iter_mut().all(|r| r.is_running()),
        "both notifiers ran throughout:\n{}\n{}",
        h.log(),
        h.replica_logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_notifiers_send_each_page_once_mongodb() {
    two_notifiers_send_each_page_once(Mode::Servers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_notifiers_send_each_page_once_embedded() {
    two_notifiers_send_each_page_once(Mode::Embedded).await;
}
