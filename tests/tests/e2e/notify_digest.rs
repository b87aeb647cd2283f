//! Low-priority digest: with `low_digest_s` set, two low alerts for the same doctor
//! reach moto's SES as one email naming both, not two, and in-app right away.

use cw_core::{Channel, DeliveryStatus, Patient, PatientId, Priority};
use cw_e2e::env::required;
use cw_e2e::notifier::{NotifierHarness, Tuning, moto_mails_to, moto_ses_section};
use cw_e2e::system::Mode;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_priority_alerts_reach_email_as_one_digest() {
    let ses_url = required("CW_TEST_SES_URL");
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550401"]).await;
    let email = format!("dr-{}@digest.test", users[0].id);
    let mut doctor = users[0].clone();
    doctor.email = Some(email.clone());
    h.stores.records.put_user(&doctor).await.expect("email");
    let second = Patient {
        id: PatientId::random(),
        ..patient.clone()
    };
    h.stores
        .records
        .put_patient(&second)
        .await
        .expect("patient");
    let a = h.fire(&patient.id, Priority::Low).await;
    let b = h.fire(&second.id, Priority::Low).await;
    let from = "alerts@digest.test";
    let ses_section = moto_ses_section(&ses_url, from).await;
    h.spawn(&Tuning {
        extra: format!("[reliability]\nlow_digest_s = 2\n{ses_section}"),
        ..Tuning::default()
    });
    for alert in [&a, &b] {
        h.wait_deliveries(&alert.id, "in-app at once", |rows| {
            rows.iter()
                .any(|d| d.channel == Channel::InApp && d.status == DeliveryStatus::Delivered)
        })
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mails = loop {
        let mails = moto_mails_to(&ses_url, &email).await;
        if !mails.is_empty() || Instant::now() > deadline {
            break mails;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Another period passes: no second digest, no per-alert mails.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails_after = moto_mails_to(&ses_url, &email).await;
    assert_eq!(mails.len(), 1, "one digest; log:\n{}", h.log());
    assert_eq!(mails_after.len(), 1, "{mails_after:#?}");
    let text = mails[0].to_string();
    assert!(
        text.contains(a.id.as_str()) && text.contains(b.id.as_str()),
        "{text}"
    );
}
