//! Retries run to the clinical deadline: the email provider is unreachable for 30 s while
//! a burst of high-priority alerts fires (deadline 300 s). Calls kept back by the open
//! circuit breaker are not tries, so no row gives up before the deadline and every email
//! reaches moto's SES once the link is back — counted at moto, once per alert.

use cw_core::{Channel, DeliveryStatus, Patient, PatientId, Priority, Role, User, UserId};
use cw_e2e::env::required;
use cw_e2e::notifier::{NotifierHarness, Tuning, moto_mails_to, moto_ses_section};
use cw_e2e::system::Mode;
use cw_e2e::tcp_proxy::{TcpProxy, host_port};
use std::time::{Duration, Instant};

const BURST: usize = 12;
const OUTAGE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_outage_shorter_than_the_deadline_loses_no_message() {
    let ses_url = required("CW_TEST_SES_URL");
    let link = TcpProxy::start(host_port(&ses_url));
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    // The default reliability settings (breaker opens after 5 failures for 30 s; backoff
    // 1-30 s): before this fix every row gave up after 6 "tries" about 21 s in.
    let ses = moto_ses_section(&format!("http://{}", link.addr), "alerts@outage.test").await;
    h.spawn(&Tuning {
        extra: ses,
        ..Tuning::default()
    });
    link.cut();
    let outage_began = Instant::now();
    // Doctors with an email and no phone: email and in-app are their only channels.
    let mut burst = Vec::new();
    for _ in 0..BURST {
        let doctor = User {
            id: UserId::random(),
            role: Role::Doctor,
            phone: None,
            email: None,
            notify: Default::default(),
            disabled: None,
            sessions: Default::default(),
        };
        let email = format!("dr-{}@outage.test", doctor.id);
        let doctor = User {
            email: Some(email.clone()),
            ..doctor
        };
        h.stores.records.put_user(&doctor).await.expect("doctor");
        let patient = Patient {
            id: PatientId::random(),
            doctors: vec![doctor.id.clone()],
            devices: vec![],
            timezone: "UTC".into(),
            phi: None,
            mrn_hash: None,
        };
        h.stores
            .records
            .put_patient(&patient)
            .await
            .expect("patient");
        let alert = h.fire(&patient.id, Priority::High).await;
        burst.push((alert, email));
    }
    tokio::time::sleep(OUTAGE.saturating_sub(outage_began.elapsed())).await;
    for (alert, email) in &burst {
        assert!(
            moto_mails_to(&ses_url, email).await.is_empty(),
            "nothing passed the cut link"
        );
        let rows = h.deliveries(&alert.id).await;
        assert!(
            rows.iter()
                .any(|d| d.channel == Channel::Email && d.status == DeliveryStatus::Failed),
            "the email was tried and failed during the outage: {rows:#?}"
        );
    }
    link.restore();

    let deadline = Instant::now() + Duration::from_secs(60);
    for (alert, email) in &burst {
        loop {
            let rows = h.deliveries(&alert.id).await;
            if rows
                .iter()
                .any(|d| d.channel == Channel::Email && d.status == DeliveryStatus::Sent)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "email of {} never sent after the outage; rows: {rows:#?}\nlog:\n{}",
                alert.id,
                h.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mails = moto_mails_to(&ses_url, email).await;
        assert_eq!(mails.len(), 1, "one email for {email}: {mails:#?}");
        assert!(mails[0].to_string().contains(alert.id.as_str()));
    }
}
