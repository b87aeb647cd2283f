//! Pages carry the evidence (issues 16 item 7, 17 item 5; docs/console.md "Deep links
//! in pages"): the SMS that reaches the Twilio sandbox links to the alert in the console
//! and carries its page code; the email that reaches moto's SES links to it too and
//! carries the ECG strip as an inline PNG drawn from the samples stored around the
//! onset, and without samples still goes, without the image, counted. (That no patient
//! name reaches a phone is checked in `console_browser.rs`, where a patient with a name
//! exists.)

use base64::Engine;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{Alert, DeviceId, PatientId, Priority, RuleKind, SampleBlock};
use cw_e2e::env::required;
use cw_e2e::ingest::metric;
use cw_e2e::notifier::{NotifierHarness, Tuning, moto_mails_to, moto_ses_section, raw_mime};
use cw_e2e::system::Mode;
use std::time::{Duration, Instant};

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

/// 20 s of 2-lead ECG-like signal at 250 Hz ending at `end_ns`: a 1 mV spike per second
/// on lead 0, lead 1 at -0.5 mV.
fn stored_ecg(patient: &PatientId, end_ns: i64) -> Vec<SampleBlock> {
    (0..20)
        .map(|s| {
            let samples_uv = (0..250)
                .flat_map(|i| [if i < 10 { 1000 } else { 0 }, -500])
                .collect();
            SampleBlock {
                patient: patient.clone(),
                device: DeviceId::parse("gw-evidence").expect("id"),
                seq: s as u64 + 1,
                start_ns: end_ns - (20 - s) * NANOS_PER_SEC,
                rate_hz: 250,
                leads: 2,
                samples_uv,
                lead_off: false,
            }
        })
        .collect()
}

/// The base64 body of the mail's `image/png` part, decoded.
fn inline_png(mime: &str) -> Option<Vec<u8>> {
    let part = &mime[mime.find("Content-Type: image/png")?..];
    let body = &part[part.find("\r\n\r\n")? + 4..];
    let body = &body[..body.find("--")?];
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_page_carries_the_link_and_the_strip_as_a_png_and_goes_without_it_when_no_ecg_is_stored()
 {
    let ses_url = required("CW_TEST_SES_URL");
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, users) = h.chain(&["+15005550602"]).await;
    let email = format!("dr-{}@evidence.test", users[0].id);
    let mut doctor = users[0].clone();
    doctor.email = Some(email.clone());
    h.stores.records.put_user(&doctor).await.expect("email");
    let fired_ns = now_ns();
    let onset_ns = fired_ns - 5 * NANOS_PER_SEC;
    h.stores
        .samples
        .write(&stored_ecg(&patient.id, fired_ns))
        .await
        .expect("samples stored");
    let alert = Alert {
        value: 150.0,
        limit: 120.0,
        started_ns: onset_ns,
        ..Alert::firing(
            patient.id.clone(),
            RuleKind::HrHigh,
            Priority::Medium,
            fired_ns,
        )
    };
    h.stores.records.open_alert(&alert).await.expect("alert");
    // A patient of the same doctor with nothing stored.
    let bare = h.another_patient_like(&patient).await;
    let bare_alert = h.fire(&bare.id, Priority::Medium).await;

    let ses = moto_ses_section(&ses_url, "alerts@evidence.test").await;
    h.spawn(&Tuning {
        console_url: Some(CONSOLE.to_owned()),
        extra: format!("[routing]\nmedium = [\"email\"]\n{ses}"),
        ..Tuning::default()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mails = loop {
        let mails = moto_mails_to(&ses_url, &email).await;
        if mails.len() >= 2 {
            break mails;
        }
        assert!(Instant::now() < deadline, "two mails; log:\n{}", h.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mimes: Vec<String> = mails.iter().map(raw_mime).collect();
    let of = |a: &Alert| {
        mimes
            .iter()
            .find(|m| m.contains(&format!("#/patient/{}/alert/{}", a.patient, a.id)))
            .unwrap_or_else(|| panic!("a mail linking to {}: {mimes:#?}", a.id))
    };

    let with = of(&alert);
    assert!(
        with.contains(&format!("Open it: {CONSOLE}#/patient/")),
        "{with}"
    );
    let png = inline_png(with).expect("an image/png part");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().expect("a PNG");
    let info = reader.info();
    // 10 mm margin + 10 s at 25 mm/s, 2 leads of 30 mm, at 5 px/mm.
    assert_eq!((info.width, info.height), (1300, 300));
    let dims = info.pixel_dims.expect("pHYs");
    assert_eq!((dims.xppu, dims.yppu), (5000, 5000), "5 px/mm");
    // The stored ECG is drawn: black (palette 0,0,0) on the paper right of the margin,
    // lead 1's -0.5 mV line alone is 2 px × 1250 px.
    let palette = info.palette.clone().expect("palette");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    reader.next_frame(&mut pixels).expect("pixels");
    let ink = pixels
        .chunks(1300)
        .flat_map(|row| &row[50..])
        .filter(|&&i| palette[usize::from(i) * 3..usize::from(i) * 3 + 3] == [0, 0, 0])
        .count();
    assert!(ink > 2 * 2 * 1200, "{ink} px of trace");

    let without = of(&bare_alert);
    assert!(
        without.contains(&format!("Open it: {CONSOLE}")),
        "{without}"
    );
    assert!(inline_png(without).is_none(), "{without}");
    assert!(without.contains("No ECG strip"), "{without}");
    let text = h.metrics().await;
    assert_eq!(
        metric(&text, "cw_notifier_email_strip_missing_total"),
        1.0,
        "{text}"
    );
}
