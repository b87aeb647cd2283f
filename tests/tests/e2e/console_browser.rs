//! The clinician's console in a real Chromium (docs/console.md), against the four service
//! processes: sign-in with a password, a streamed record's alarm reaching the worklist
//! within 5 s over the live socket, IEC 60601-1-8 colours, a patient name holding
//! `<script>` shown as text, acknowledging from the worklist, the strip's scale measured
//! on the rendered page, and another doctor's patient refused by URL. One browser session
//! walks through it all (each browser start costs seconds on two shared cores); every
//! page is saved under `target/screenshots/`.

use crate::console_harness::{Console, admin_call, sign_in};
use cardiowatch::fixture::FixtureSpec;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{Alert, Priority, RuleKind};
use cw_e2e::system::System;
use cw_e2e::webdriver::{Browser, screenshot_path};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PATIENT: &str = "e2e-console-100";
const DOCTOR: &str = "dr-console";
const PASSWORD: &str = "console test password 1";
const EMAIL: &str = "dr-console@console.test";
/// What IEC 60601-1-8 colours look like once the browser computed the style sheet.
const RED: &str = "rgb(212, 0, 0)";
const YELLOW: &str = "rgb(255, 213, 0)";
const CYAN: &str = "rgb(0, 200, 224)";
/// CSS fixes 1 mm at 96/25.4 px: the scale the strip declares (width in mm).
const CSS_PX_PER_MM: f64 = 96.0 / 25.4;

/// The patient's alerts in `state`, as the api lists them to an admin.
async fn alerts(system: &System, patient: &str, state: &str) -> Vec<Value> {
    let path = format!("/v1/alerts?patient={patient}&state={state}");
    match admin_call(system, reqwest::Method::GET, &path, Value::Null).await {
        Value::Array(list) => list,
        other => panic!("alerts: {other}"),
    }
}

/// The background colour of the priority cell of the alert's worklist row.
async fn row_colour(browser: &Browser, alert: &str) -> Value {
    browser
        .wait_for(
            &format!("the worklist row of {alert}"),
            "const row = document.querySelector(`tr[data-alert-id=\"${arguments[0]}\"] td.priority`);
             return row ? getComputedStyle(row).backgroundColor : null;",
            json!([alert]),
            Duration::from_secs(10),
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clinician_signs_in_sees_a_streamed_alarm_acknowledges_it_reads_its_strip_and_cannot_open_another_doctors_patient()
 {
    let mut console_stack = Console::prepare(&FixtureSpec {
        patient_id: PATIENT,
        doctor_id: DOCTOR,
        device_id: "gw-console-1",
        phone: Some("+15005550178"),
        email: Some(EMAIL),
        hr_high_bpm: 70.0,
        for_s: 2.0,
    })
    .await;
    // Another doctor's patient, with an open alarm of its own.
    let foreign = console_stack.foreign_patient("dr-stranger").await;
    let foreign_alert = Alert::firing(
        foreign.id.clone(),
        RuleKind::HrHigh,
        Priority::High,
        now_ns(),
    );
    console_stack
        .system
        .stores
        .records
        .open_alert(&foreign_alert)
        .await
        .expect("foreign alert");
    let ses_url = cw_e2e::env::required("CW_TEST_SES_URL");
    console_stack
        .start_with_email(Some((ses_url.clone(), "alerts@console.test".into())))
        .await;
    let system = &console_stack.system;

    // The admin gives the doctor a password and registers a patient whose name is markup.
    admin_call(
        system,
        reqwest::Method::PUT,
        &format!("/v1/users/{DOCTOR}/login"),
        json!({"role": "doctor", "password": PASSWORD}),
    )
    .await;
    let evil_name = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">Eve";
    let evil = admin_call(
        system,
        reqwest::Method::POST,
        "/v1/patients",
        json!({"name": evil_name, "date_of_birth": "1950-01-31", "mrn": "MRN-CONSOLE-1", "doctors": [DOCTOR]}),
    )
    .await;
    let evil_id = cw_core::PatientId::parse(evil["id"].as_str().expect("patient id")).expect("id");
    let fired = now_ns() - 30 * NANOS_PER_SEC;
    let pause = Alert {
        value: 3.4,
        limit: 3.0,
        ..Alert::firing(evil_id.clone(), RuleKind::Pause, Priority::Medium, fired)
    };
    let lead_off = Alert::firing(evil_id.clone(), RuleKind::LeadOff, Priority::Low, fired);
    for alert in [&pause, &lead_off] {
        system
            .stores
            .records
            .open_alert(alert)
            .await
            .expect("alert opened");
    }

    let browser = Browser::start(1400, 1000).await;
    let console = system.api_url("/console/");
    browser.goto(&console).await;
    browser
        .wait_for(
            "the sign-in form",
            "return document.querySelector('form#signin')",
            json!([]),
            Duration::from_secs(10),
        )
        .await;
    let csp = system
        .https()
        .get(&console)
        .send()
        .await
        .expect("console page")
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("a CSP header");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    browser.type_into("#user", DOCTOR).await;
    browser.type_into("#password", "not the password").await;
    browser.click("#signin-submit").await;
    browser
        .wait_for(
            "the refusal of a wrong password",
            "const m = document.getElementById('signin-message');
             return m && m.textContent.includes('Wrong') ? m.textContent : null;",
            json!([]),
            Duration::from_secs(10),
        )
        .await;
    browser
        .screenshot(&screenshot_path("console-signin.png"))
        .await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#signin-submit").await;
    browser
        .wait_for(
            "the worklist",
            "const t = document.getElementById('worklist'); return t && t.dataset.ready === '1';",
            json!([]),
            Duration::from_secs(10),
        )
        .await;
    let who = browser
        .run(
            "return document.getElementById('who').textContent",
            json!([]),
        )
        .await;
    assert_eq!(who, json!(format!("{DOCTOR} (doctor)")));
    let stored_token = browser
        .run(
            "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie",
            json!([]),
        )
        .await;
    assert_eq!(stored_token, json!("{}{}"), "tokens live in memory only");

    // Markup in a name is text: no script ran, no element was made from it.
    let evil_row = browser
        .wait_for(
            "the row of the patient named with markup",
            "const cell = [...document.querySelectorAll('tr.alarm td.patient')]
                 .find(td => td.textContent === arguments[0]);
             return cell ? {xss: window.__xss === undefined ? 0 : window.__xss,
                            elements: cell.children.length} : null;",
            json!([evil_name]),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(evil_row, json!({"xss": 0, "elements": 0}));
    assert_eq!(row_colour(&browser, pause.id.as_str()).await, json!(YELLOW));
    assert_eq!(
        row_colour(&browser, lead_off.id.as_str()).await,
        json!(CYAN)
    );
    let foreign_rows = browser
        .run(
            "return document.querySelectorAll(`tr[data-alert-id=\"${arguments[0]}\"]`).length",
            json!([foreign_alert.id.as_str()]),
        )
        .await;
    assert_eq!(
        foreign_rows,
        json!(0),
        "another doctor's alarm is not listed"
    );

    // A streamed record raises the HR alarm; the open page shows it within 5 s.
    let (gateway, streaming) = console_stack.stream_record_100(90.0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert = loop {
        if let Some(a) = alerts(system, PATIENT, "firing").await.into_iter().next() {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no alert fired; logs:\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let alert_id = alert["id"].as_str().expect("alert id").to_owned();
    let fired_ns = alert["fired_ns"].as_i64().expect("fired_ns");
    browser
        .wait_for(
            "the streamed alarm in the worklist",
            "return document.querySelector(`tr[data-alert-id=\"${arguments[0]}\"]`)",
            json!([alert_id]),
            Duration::from_secs(5),
        )
        .await;
    let shown_after_s = (now_ns() - fired_ns) as f64 / NANOS_PER_SEC as f64;
    println!("the streamed alarm was in the worklist {shown_after_s:.2} s after it fired");
    assert!(
        shown_after_s < 5.0,
        "shown {shown_after_s:.2} s after firing"
    );
    assert_eq!(row_colour(&browser, &alert_id).await, json!(RED));
    browser
        .wait_for(
            "the first page in the escalation column",
            "const c = document.querySelector(`tr[data-alert-id=\"${arguments[0]}\"] td.escalation`);
             return c && c.textContent.startsWith('step 1') ? c.textContent : null;",
            json!([alert_id]),
            Duration::from_secs(20),
        )
        .await;
    browser
        .screenshot(&screenshot_path("console-worklist.png"))
        .await;

    // Acknowledge from the worklist: the store says who did.
    browser
        .click(&format!("tr[data-alert-id=\"{alert_id}\"] button.ack"))
        .await;
    browser
        .wait_for(
            "the row to show the acknowledgement",
            "const r = document.querySelector(`tr[data-alert-id=\"${arguments[0]}\"]`);
             return r && r.dataset.state === 'acknowledged';",
            json!([alert_id]),
            Duration::from_secs(10),
        )
        .await;
    let acked = alerts(system, PATIENT, "acknowledged").await;
    assert_eq!(acked.len(), 1, "{acked:?}");
    assert_eq!(acked[0]["acked_by"], json!(DOCTOR));

    // The strip: 25 mm/s and 10 mm/mV measured on the rendered page.
    browser
        .click(&format!("tr[data-alert-id=\"{alert_id}\"] a"))
        .await;
    let scale = browser
        .wait_for(
            "the strip with its beat marks",
            "const svg = document.querySelector('svg#strip');
             if (!svg || svg.querySelectorAll('g.beat').length < 5) return null;
             const box = svg.getBoundingClientRect();
             const majors = [...svg.querySelectorAll('g.grid-major line')]
                 .filter(l => l.x1.baseVal.value === l.x2.baseVal.value)
                 .map(l => l.getBoundingClientRect().left);
             const cal = svg.querySelector('path.calibration').getBoundingClientRect();
             const beats = [...svg.querySelectorAll('g.beat')].map(g => ({
                 at_ns: Number(g.dataset.atNs),
                 x: g.querySelector('line').getBoundingClientRect().left}));
             return {px_per_mm: box.width / svg.viewBox.baseVal.width,
                     major_px: majors[1] - majors[0],
                     calibration_height_px: cal.height,
                     leads: svg.querySelectorAll('path.trace').length,
                     beats};",
            json!([]),
            Duration::from_secs(20),
        )
        .await;
    browser
        .screenshot(&screenshot_path("console-strip.png"))
        .await;
    let px_per_mm = scale["px_per_mm"].as_f64().expect("px_per_mm");
    assert!(
        (px_per_mm / CSS_PX_PER_MM - 1.0).abs() < 0.005,
        "the strip declares {px_per_mm} px/mm"
    );
    let major_mm = scale["major_px"].as_f64().expect("major") / px_per_mm;
    assert!((major_mm - 5.0).abs() < 0.05, "major grid {major_mm} mm");
    let one_mv_mm = scale["calibration_height_px"].as_f64().expect("cal") / px_per_mm;
    assert!((one_mv_mm - 10.0).abs() < 0.1, "1 mV = {one_mv_mm} mm");
    assert_eq!(scale["leads"], json!(2), "both leads of record 100");
    let beats = scale["beats"].as_array().expect("beats");
    let first = &beats[0];
    for beat in beats {
        let seconds = (beat["at_ns"].as_f64().expect("at") - first["at_ns"].as_f64().expect("at"))
            / NANOS_PER_SEC as f64;
        let mm = (beat["x"].as_f64().expect("x") - first["x"].as_f64().expect("x")) / px_per_mm;
        assert!(
            (mm - 25.0 * seconds).abs() < 0.2,
            "a beat {seconds:.3} s on is {mm:.2} mm on (25 mm/s: {:.2})",
            25.0 * seconds
        );
    }

    // Calipers between two neighbouring beat marks in view (each click 1 px off the mark,
    // within the snap) read their RR within 10 ms.
    let pair = browser
        .run(
            "const svg = document.querySelector('svg#strip');
             const box = svg.getBoundingClientRect();
             const view = svg.parentElement.getBoundingClientRect();
             const marks = [...svg.querySelectorAll('g.beat')].map(g => ({
                 at_ns: Number(g.dataset.atNs),
                 x: g.querySelector('line').getBoundingClientRect().left}))
                 .filter(m => m.x > view.left + 5 && m.x < view.right - 5);
             return {a: marks[marks.length - 2], b: marks[marks.length - 1],
                     y: box.top + box.height / 2};",
            json!([]),
        )
        .await;
    let y = pair["y"].as_f64().expect("y");
    let (a, b) = (&pair["a"], &pair["b"]);
    browser.click_at(a["x"].as_f64().expect("x") + 1.0, y).await;
    browser.click_at(b["x"].as_f64().expect("x") - 1.0, y).await;
    let caliper_ms: f64 = browser
        .wait_for(
            "the caliper readout",
            "return document.getElementById('caliper-readout').dataset.ms || null",
            json!([]),
            Duration::from_secs(5),
        )
        .await
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("caliper ms");
    let rr_ms = (b["at_ns"].as_f64().expect("at") - a["at_ns"].as_f64().expect("at")) / 1e6;
    assert!(
        (caliper_ms - rr_ms).abs() < 10.0,
        "calipers read {caliper_ms} ms for an RR of {rr_ms} ms"
    );
    browser
        .screenshot(&screenshot_path("console-calipers.png"))
        .await;

    // Another doctor's patient by URL: refused, nothing of it shown.
    browser
        .goto(&format!(
            "{console}#/patient/{}/alert/{}",
            foreign.id, foreign_alert.id
        ))
        .await;
    browser
        .wait_for(
            "the refusal of another doctor's patient",
            "return document.getElementById('denied')",
            json!([]),
            Duration::from_secs(10),
        )
        .await;
    let shown = browser
        .run(
            "return document.querySelectorAll('.alarm-head, svg#strip').length",
            json!([]),
        )
        .await;
    assert_eq!(shown, json!(0));
    browser
        .screenshot(&screenshot_path("console-denied.png"))
        .await;

    // Sign out: back to the sign-in form, and the session's refresh token is spent.
    browser.click("#logout").await;
    browser
        .wait_for(
            "the sign-in form after signing out",
            "return document.querySelector('form#signin')",
            json!([]),
            Duration::from_secs(10),
        )
        .await;

    // The pages carry the evidence (docs/console.md, "Deep links in pages"): the email of
    // the streamed alarm links to it and holds its strip as a PNG; no page names the
    // patient (the markup-named one was paged too: medium by SMS and email).
    let link = format!("{console}#/patient/{PATIENT}/alert/{alert_id}");
    let mail = emailed(&ses_url, &format!("alert/{alert_id}")).await;
    let emailed_link = mail
        .split("Open it: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no link in {mail}"));
    assert_eq!(emailed_link, link);
    assert!(mail.contains("Content-Type: image/png"), "{mail}");
    let pause_sms = console_stack
        .sandbox
        .wait_for_messages(2, Duration::from_secs(10))
        .await;
    let pause_link = format!("{console}#/patient/{evil_id}/alert/{}", pause.id);
    assert!(
        pause_sms.iter().any(|m| m.body.contains(&pause_link)),
        "{pause_sms:#?}"
    );
    let mails = cw_e2e::notifier::moto_mails_to(&ses_url, EMAIL).await;
    // Up to the image: base64 may spell anything.
    let texts = mails.iter().map(|m| {
        let mime = cw_e2e::notifier::raw_mime(m);
        mime.split("Content-Type: image/png")
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    let pages = pause_sms.iter().map(|m| m.body.clone()).chain(texts);
    for page in pages {
        for phi in ["Eve", "xss", "1950-01-31", "MRN-CONSOLE-1"] {
            assert!(!page.contains(phi), "{phi} in a page: {page}");
        }
    }

    // Opened signed out (a fresh load, as from a mail client), the link shows the sign-in
    // form and, once signed in, the alert it names.
    browser.goto("about:blank").await;
    browser.goto(emailed_link).await;
    browser
        .wait_for(
            "the sign-in form for the emailed link",
            "return document.querySelector('form#signin')",
            json!([]),
            Duration::from_secs(10),
        )
        .await;
    browser.type_into("#user", DOCTOR).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#signin-submit").await;
    browser
        .wait_for(
            "the emailed alert after sign-in",
            "return document.querySelector(`.alarm-head[data-alert-id=\"${arguments[0]}\"]`)",
            json!([alert_id]),
            Duration::from_secs(10),
        )
        .await;
    browser
        .screenshot(&screenshot_path("console-deeplink.png"))
        .await;
    browser.click("#logout").await;
    browser
        .wait_for(
            "the sign-in form after signing out",
            "return document.querySelector('form#signin')",
            json!([]),
            Duration::from_secs(10),
        )
        .await;

    // Signed in again on the worklist, the doctor's account is disabled by an admin: the
    // api closes the page's live socket (4003) and the page signs out at once.
    sign_in(&browser, &format!("{console}#/worklist"), DOCTOR, PASSWORD).await;
    browser
        .wait_for(
            "the worklist's live socket",
            "const t = document.getElementById('worklist');
             return t && t.dataset.ready === '1' && t.dataset.live === '1';",
            json!([]),
            Duration::from_secs(10),
        )
        .await;
    let disabled_at = Instant::now();
    admin_call(
        system,
        reqwest::Method::POST,
        &format!("/v1/users/{DOCTOR}/disable"),
        json!({"reason": "left the hospital"}),
    )
    .await;
    browser
        .wait_for(
            "the page to sign the disabled account out",
            "const m = document.getElementById('signin-message');
             return m && m.textContent.includes('disabled') ? m.textContent : null;",
            json!([]),
            // The socket re-check closes within 3 s (docs/live.md); the 15 s reload
            // must not be what signs the page out.
            Duration::from_secs(6),
        )
        .await;
    println!(
        "a disabled account was signed out of the page {:.2} s after the disable",
        disabled_at.elapsed().as_secs_f64()
    );
    streaming.cancel();
    let _ = gateway.await;
}

/// The raw MIME of the first mail to [`EMAIL`] at moto holding `needle` (20 s at most).
async fn emailed(ses_url: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mails = cw_e2e::notifier::moto_mails_to(ses_url, EMAIL).await;
        if let Some(mime) = mails
            .iter()
            .map(cw_e2e::notifier::raw_mime)
            .find(|m| m.contains(needle))
        {
            return mime;
        }
        assert!(
            Instant::now() < deadline,
            "no mail holding {needle}: {mails:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sign-in through the hospital's OpenID provider in the page (issue 16 item 2): the
/// sign-in page offers "Sign in with <provider>" beside the password form, the
/// provider's own login page (panva's oidc-provider, `cw_e2e::idp`) takes the login,
/// and the browser lands on the worklist it asked for, the tokens in the page's memory
/// only (no storage, no script-readable cookie). The api alone serves the console here.
#[tokio::test]
async fn a_clinician_signs_in_through_the_oidc_providers_page_and_lands_on_the_worklist() {
    let port = cw_e2e::env::free_port();
    let base = format!("https://127.0.0.1:{port}");
    let callback = format!("{base}/v1/auth/oidc/callback");
    let idp = cw_e2e::idp::Idp::start(&callback);
    let h = cw_e2e::api::ApiHarness::start_with(cw_e2e::system::Mode::Embedded, |cfg| {
        cfg.listen = format!("127.0.0.1:{port}");
        idp.configure(cfg, &callback);
    })
    .await;
    h.put_user(&h.doctor_a, cw_core::Role::Doctor).await;
    let browser = Browser::start(1280, 900).await;
    browser.goto(&h.url("/console/#/worklist")).await;
    browser
        .wait_for(
            "the provider's sign-in button",
            "return !!document.getElementById('signin-oidc');",
            json!([]),
            Duration::from_secs(10),
        )
        .await;
    let label = browser
        .run(
            "return document.getElementById('signin-oidc').textContent;",
            json!([]),
        )
        .await;
    assert_eq!(label, "Sign in with Hospital IdP");
    browser
        .screenshot(&screenshot_path("console-signin-oidc.png"))
        .await;
    browser.click("#signin-oidc").await;
    browser
        .wait_for(
            "the provider's login page",
            "return location.origin !== arguments[0] && !!document.querySelector('input[name=login]');",
            json!([base]),
            Duration::from_secs(10),
        )
        .await;
    browser
        .screenshot(&screenshot_path("console-oidc-provider.png"))
        .await;
    browser
        .type_into("input[name=login]", h.doctor_a.as_str())
        .await;
    browser.type_into("input[name=password]", "any").await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for(
            "the worklist after the provider's sign-in",
            "const t = document.getElementById('worklist'); return t && t.dataset.ready === '1';",
            json!([]),
            Duration::from_secs(15),
        )
        .await;
    let after = browser
        .run(
            "return [location.href, document.getElementById('who').textContent, \
             localStorage.length, sessionStorage.length, document.cookie];",
            json!([]),
        )
        .await;
    assert_eq!(
        after,
        json!([
            format!("{base}/console/#/worklist"),
            format!("{} (doctor)", h.doctor_a),
            0,
            0,
            ""
        ]),
        "on the worklist as the mapped doctor, tokens in memory only"
    );
    assert!(
        browser
            .run(
                "return document.querySelectorAll('#worklist tr.alarm').length;",
                json!([])
            )
            .await
            .as_u64()
            .is_some_and(|n| n >= 1),
        "the doctor's open alarm is listed"
    );
    browser
        .screenshot(&screenshot_path("console-oidc-worklist.png"))
        .await;
}
