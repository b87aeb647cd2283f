//! The clinician's console in a real Chromium (docs/console.md), against the four service
//! processes: sign-in with a password, a streamed record's alarm reaching the worklist
//! within 5 s over the live socket, IEC 60601-1-8 colours, a patient name holding
//! `<script>` shown as text, acknowledging from the worklist, the strip's scale measured
//! on the rendered page, and another doctor's patient refused by URL. One browser session
//! walks through it all (each browser start costs seconds on two shared cores); every
//! page is saved under `target/screenshots/`.

use crate::console_harness::{Console, admin_call, record_100_path, sign_in};
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

/// Whether the header bar takes up room on the page (not `display: none`, some height).
async fn bar_shown(browser: &Browser) -> Value {
    browser
        .run(
            "const bar = document.getElementById('bar');
             return getComputedStyle(bar).display !== 'none' && bar.getBoundingClientRect().height > 0;",
            json!([]),
        )
        .await
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
    // Signed out, the page shows no header bar (its nav, name and Sign out are for a
    // session): `hidden` wins over the bar's `display: flex`.
    assert_eq!(
        bar_shown(&browser).await,
        json!(false),
        "the header bar before sign-in"
    );
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
    assert_eq!(
        bar_shown(&browser).await,
        json!(true),
        "the header bar signed in"
    );
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
    let streamed_after = now_ns() - NANOS_PER_SEC;
    let (gateway, streaming) = console_stack.stream_record_100(90.0);
    let record_start_ns = console_stack.record_100_start_ns(streamed_after).await;
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

    // Calipers on the cardiologists' beats (issue 16 item 8): two neighbouring annotated
    // beats of 100.atr, dated as the gateway streamed them, clicked where the strip's own
    // time → px scale puts them, read their annotated RR within 10 ms.
    let pair = annotated_pair(&browser, record_start_ns).await;
    let rr_ms = pair.rr_ms;
    let clicks = browser
        .run(
            "const svg = document.querySelector('svg#strip');
             const scroll = svg.parentElement;
             const pxPerMm = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
             const [aMm, bMm] = arguments;
             scroll.scrollLeft = ((aMm + bMm) / 2) * pxPerMm - scroll.clientWidth / 2;
             const box = svg.getBoundingClientRect();
             const view = scroll.getBoundingClientRect();
             return {a: box.left + aMm * pxPerMm, b: box.left + bMm * pxPerMm,
                     y: box.top + box.height / 2, left: view.left, right: view.right};",
            json!([pair.a_mm, pair.b_mm]),
        )
        .await;
    let num = |key: &str| {
        clicks[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {clicks}"))
    };
    for key in ["a", "b"] {
        assert!(
            num(key) > num("left") + 1.0 && num(key) < num("right") - 1.0,
            "the annotated beat {key} is not in view: {clicks}"
        );
    }
    browser.click_at(num("a"), num("y")).await;
    browser.click_at(num("b"), num("y")).await;
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
    println!("calipers read {caliper_ms} ms between annotated beats {rr_ms:.1} ms apart");
    assert!(
        (caliper_ms - rr_ms).abs() < 10.0,
        "calipers read {caliper_ms} ms for the annotated RR of {rr_ms:.1} ms"
    );
    // The pair was picked so that a measurement one beat off reads another RR.
    for other in pair.neighbour_rrs_ms {
        assert!(
            (caliper_ms - other).abs() > 10.0,
            "the neighbouring RR {other:.1} ms is as close as the annotated one"
        );
    }
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

/// Two neighbouring beats of record 100's reference annotations on the drawn strip.
struct AnnotatedPair {
    /// Where the strip draws them: x in its millimetres (its viewBox unit).
    a_mm: f64,
    b_mm: f64,
    /// Their annotated RR, and the RRs just before and after it.
    rr_ms: f64,
    neighbour_rrs_ms: [f64; 2],
}

/// Of the annotated beats (`100.atr`, beat codes only) dated from `record_start_ns` (sample
/// `i` at `i` / 360 s) between the strip's first and last beat marks (where ECG is
/// drawn), the neighbouring pair whose RR differs most from the RRs either side, so that
/// a measurement one beat off would read another RR; placed with the strip's own scale
/// (`data-from-ns`, `data-left-mm`, `data-mm-per-s`: strip.js).
async fn annotated_pair(browser: &Browser, record_start_ns: i64) -> AnnotatedPair {
    let strip = browser
        .run(
            "const svg = document.querySelector('svg#strip');
             const marks = [...svg.querySelectorAll('g.beat')].map(g => g.dataset.atNs);
             return {from_ns: svg.dataset.fromNs, left_mm: Number(svg.dataset.leftMm),
                     mm_per_s: Number(svg.dataset.mmPerS),
                     first_mark: marks[0], last_mark: marks[marks.length - 1]};",
            json!([]),
        )
        .await;
    let ns = |key: &str| -> i64 {
        strip[key]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key}: {strip}"))
    };
    let (from_ns, first_mark, last_mark) = (ns("from_ns"), ns("first_mark"), ns("last_mark"));
    let left_mm = strip["left_mm"].as_f64().expect("left_mm");
    let mm_per_s = strip["mm_per_s"].as_f64().expect("mm_per_s");
    let record = record_100_path();
    let annotations =
        cw_wfdb::read_annotations(record.with_extension("atr")).expect("100.atr read");
    let beats: Vec<i64> = annotations
        .iter()
        .filter(|a| cw_wfdb::is_beat(a.code))
        .map(|a| record_start_ns + (a.sample as i64 * NANOS_PER_SEC) / 360)
        .filter(|t| (first_mark..=last_mark).contains(t))
        .collect();
    let ms = |a: i64, b: i64| (b - a) as f64 / 1e6;
    let (k, distinct) = (1..beats.len().saturating_sub(2))
        .map(|k| {
            let rr = ms(beats[k], beats[k + 1]);
            let before = (rr - ms(beats[k - 1], beats[k])).abs();
            let after = (rr - ms(beats[k + 1], beats[k + 2])).abs();
            (k, before.min(after))
        })
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .unwrap_or_else(|| panic!("too few annotated beats on the strip: {beats:?}"));
    assert!(
        distinct > 20.0,
        "no annotated RR on the strip differs from its neighbours by over 20 ms ({distinct:.1})"
    );
    let mm = |t: i64| left_mm + (t - from_ns) as f64 / NANOS_PER_SEC as f64 * mm_per_s;
    AnnotatedPair {
        a_mm: mm(beats[k]),
        b_mm: mm(beats[k + 1]),
        rr_ms: ms(beats[k], beats[k + 1]),
        neighbour_rrs_ms: [ms(beats[k - 1], beats[k]), ms(beats[k + 1], beats[k + 2])],
    }
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

    // Declined at the provider (its Cancel link answers `access_denied`): back on the
    // console's own sign-in page, a plain message and a way to try again; none of the
    // provider's text, no header bar, the marker gone from the address.
    browser.click("#signin-oidc").await;
    provider_login_page(&browser, &base).await;
    browser.click("a[href$='/abort']").await;
    let denied = refusal_shown(&browser).await;
    assert_eq!(
        denied,
        json!({
            "message": "The sign-in was cancelled or declined at your organisation's sign-in page.",
            "retry": "/v1/auth/oidc/start?return_to=%2Fconsole%2F",
            "href": format!("{base}/console/"),
            "bar": false,
            "provider_text": false,
        })
    );
    browser
        .screenshot(&screenshot_path("console-oidc-denied.png"))
        .await;
    // A callback with a state of no sign-in of this browser (forged, or used up).
    browser
        .goto(&format!("{callback}?code=forged&state=forged"))
        .await;
    let stale = refusal_shown(&browser).await;
    assert_eq!(
        stale["message"],
        json!("This sign-in attempt expired or was already used."),
        "{stale}"
    );
    assert_eq!(stale["href"], json!(format!("{base}/console/")), "{stale}");

    // A code the page does not know (anyone can write the address): the general message.
    browser
        .goto(&format!("{base}/console/?signin_error=constructor"))
        .await;
    let unknown = refusal_shown(&browser).await;
    assert_eq!(
        unknown["message"],
        json!("Signing in through your organisation did not work."),
        "{unknown}"
    );

    // Try again: the provider's page once more, and this time the sign-in goes through.
    browser.click("#signin-retry").await;
    provider_login_page(&browser, &base).await;
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

/// Waits for the OpenID provider's own login page (another origin than `base`).
async fn provider_login_page(browser: &Browser, base: &str) {
    browser
        .wait_for(
            "the provider's login page",
            "return location.origin !== arguments[0] && !!document.querySelector('input[name=login]');",
            json!([base]),
            Duration::from_secs(10),
        )
        .await;
}

/// The console's sign-in page after a refused OIDC sign-in, once its "Try again" link
/// leads to the provider: the message, that link, the address, whether the header bar
/// shows and whether any of the provider's own text reached the page.
async fn refusal_shown(browser: &Browser) -> Value {
    browser
        .wait_for(
            "the refused sign-in's message on the console's sign-in page",
            "const panel = document.getElementById('signin-error');
             const retry = document.getElementById('signin-retry');
             if (!panel || !retry || !retry.getAttribute('href').startsWith('/v1/')) return null;
             const bar = document.getElementById('bar');
             return {message: panel.querySelector('p').textContent,
                     retry: retry.getAttribute('href'),
                     href: location.href,
                     bar: getComputedStyle(bar).display !== 'none',
                     provider_text: /access_denied|End-User|forged/.test(document.body.textContent)};",
            json!([]),
            Duration::from_secs(10),
        )
        .await
}
