//! The console's admin and ops pages and break-glass in a real Chromium (docs/console.md,
//! "Admin and ops", "Accessibility"), against the four service processes: an admin
//! creates a user and assigns a patient, registers a device, issues its token, pins its
//! certificate and revokes it, and reads the audit log with "Chain verified"; an ops user
//! sees the fatigue charts (the false-alarm rate per rule from triage) and no patient
//! name, date of birth or MRN anywhere, and pages outside the role do not break; a doctor
//! refused a patient gets break-glass, which asks for a reason. axe-core checks every
//! page the walk opens for serious and critical violations. One browser session (each
//! start costs seconds on two shared cores); screenshots under `target/screenshots/`.

use crate::console_harness::{Console, admin_call, sign_in, sign_in_to};
use cardiowatch::fixture::FixtureSpec;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{Alert, DeviceId, PatientId, Priority, RuleKind, SampleBlock, UserId};
use cw_e2e::system::System;
use cw_e2e::webdriver::{Browser, screenshot_path};
use serde_json::{Value, json};
use std::time::Duration;

const DOCTOR: &str = "dr-admin-ui";
const ADMIN: &str = "admin-ui";
const OPS: &str = "ops-ui";
const NEW_DOCTOR: &str = "dr-new-ui";
const PASSWORD: &str = "console admin password 1";
const WAIT: Duration = Duration::from_secs(10);

/// Violations axe-core finds on the page, gathered per page for one assertion at the end
/// (so one run names every page's findings).
async fn accessibility(browser: &Browser, page: &str, found: &mut Vec<String>) {
    for v in cw_e2e::axe::serious_violations(browser).await {
        found.push(format!("{page}: {v}"));
    }
}

async fn wait_ready(browser: &Browser, what: &str, script: &str) -> Value {
    browser.wait_for(what, script, json!([]), WAIT).await
}

/// Opens `hash` in the page (the same document: the session stays) and waits for `ready`.
async fn visit(browser: &Browser, hash: &str, what: &str, ready: &str) -> Value {
    browser
        .run("location.hash = arguments[0]; return true;", json!([hash]))
        .await;
    wait_ready(browser, what, ready).await
}

async fn sign_out(browser: &Browser) {
    browser.click("#logout").await;
    wait_ready(
        browser,
        "the sign-in form after signing out",
        "return document.querySelector('form#signin')",
    )
    .await;
}

/// A patient with PHI (name, date of birth, MRN) for `doctor`, created by the admin.
async fn patient_with_phi(system: &System, name: &str, mrn: &str, doctor: &str) -> PatientId {
    let made = admin_call(
        system,
        reqwest::Method::POST,
        "/v1/patients",
        json!({"name": name, "date_of_birth": "1941-07-19", "mrn": mrn, "doctors": [doctor]}),
    )
    .await;
    PatientId::parse(made["id"].as_str().expect("patient id")).expect("id")
}

/// `seconds` of MIT-BIH record 100 (360 Hz, two leads) stored for `patient` from
/// `start_ns`: the alert detail's strip and trend draw real beats.
async fn store_record_100(system: &System, patient: &PatientId, start_ns: i64, seconds: usize) {
    const FS: usize = 360;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100");
    let record = cw_wfdb::Record::open(&dir)
        .unwrap_or_else(|e| panic!("record 100 at {}: {e}", dir.display()));
    let uv = record.microvolts_interleaved();
    let device = DeviceId::random();
    let per = FS * 2;
    let blocks: Vec<SampleBlock> = (0..seconds)
        .map(|s| SampleBlock {
            patient: patient.clone(),
            device: device.clone(),
            seq: s as u64 + 1,
            start_ns: start_ns + s as i64 * NANOS_PER_SEC,
            rate_hz: FS as u32,
            leads: 2,
            samples_uv: uv[s * per..(s + 1) * per].to_vec(),
            lead_off: false,
        })
        .collect();
    system
        .stores
        .samples
        .write(&blocks)
        .await
        .expect("samples stored");
}

async fn page_text(browser: &Browser) -> String {
    browser
        .run("return document.body.innerText", json!([]))
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const NEW_PHONE: &str = "+15005550181";

/// Sets an input's text (cleared first) as key presses.
async fn retype(browser: &Browser, css: &str, text: &str) {
    browser
        .run(
            "document.querySelector(arguments[0]).value = ''; return true;",
            json!([css]),
        )
        .await;
    browser.type_into(css, text).await;
}

/// The new doctor's phone edited on the users page: a malformed number gets the api's own
/// field error beside the input and changes nothing; a good one is stored, and the next
/// page to that doctor (the medium alarm `alert` escalated to its second doctor) goes to
/// the new number at the Twilio sandbox, none to the old one.
async fn edit_phone_then_page(
    sandbox: &cw_sandbox::TwilioSandbox,
    system: &System,
    browser: &Browser,
    alert: &Alert,
) {
    browser
        .click(&format!(
            "#users tr[data-user=\"{NEW_DOCTOR}\"] button.edit"
        ))
        .await;
    let shown = wait_ready(
        browser,
        "the edit form with the stored phone",
        "const f = document.getElementById('edit-user'); return f && !f.hidden && document.getElementById('edit-user-phone').value;",
    )
    .await;
    assert_eq!(shown, json!("+15005550180"));
    retype(browser, "#edit-user-phone", "12345").await;
    browser.click("#edit-user-submit").await;
    let refused = wait_ready(
        browser,
        "the phone's field error",
        "const e = document.getElementById('edit-user-phone-error'); return e && e.textContent ? [e.textContent, document.getElementById('edit-user-phone').getAttribute('aria-invalid')] : null;",
    )
    .await;
    // The api's own answer to the same change, in the JSON error shape.
    let answer = system
        .https()
        .put(system.api_url(&format!("/v1/users/{NEW_DOCTOR}")))
        .bearer_auth(crate::console_harness::admin_token(system))
        .json(&json!({"phone": "12345"}))
        .send()
        .await
        .expect("PUT /v1/users");
    assert_eq!(answer.status().as_u16(), 422);
    let error: Value = answer.json().await.expect("JSON error");
    assert_eq!(error["error"]["field"], json!("phone"), "{error}");
    assert_eq!(
        refused,
        json!([error["error"]["message"], "true"]),
        "{refused}"
    );
    let user = UserId::parse(NEW_DOCTOR).expect("id");
    let stored = system.stores.records.user(&user).await.expect("user");
    assert_eq!(
        stored.phone.as_deref(),
        Some("+15005550180"),
        "a refused edit changes nothing"
    );

    retype(browser, "#edit-user-phone", NEW_PHONE).await;
    browser.click("#edit-user-submit").await;
    let saved = wait_ready(
        browser,
        "the saved edit",
        "const r = document.getElementById('edit-user-result'); return r && r.dataset.outcome === 'ok' ? r.textContent : null;",
    )
    .await;
    assert_eq!(saved, json!(format!("Saved {NEW_DOCTOR}: phone.")));
    let invalid = browser
        .run(
            "return document.getElementById('edit-user-phone').getAttribute('aria-invalid')",
            json!([]),
        )
        .await;
    assert_eq!(invalid, Value::Null, "the field error is cleared");
    let stored = system.stores.records.user(&user).await.expect("user");
    assert_eq!(stored.phone.as_deref(), Some(NEW_PHONE));
    assert_eq!(stored.role, cw_core::Role::Doctor, "the role is kept");
    let audited = system
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    let resource = format!("/v1/users/{NEW_DOCTOR}");
    assert!(
        audited.iter().any(|e| e.entry.action == "user_update"
            && e.entry.resource == resource
            && e.entry.reason == "fields: phone"),
        "the edit is audited by field name"
    );

    // The next page to this doctor: the medium alarm escalated to its second step.
    admin_call(
        system,
        reqwest::Method::POST,
        &format!("/v1/alerts/{}/escalate", alert.id),
        Value::Null,
    )
    .await;
    let id = alert.id.as_str();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !sandbox
        .messages()
        .iter()
        .any(|m| m.to == NEW_PHONE && m.body.contains(id))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no SMS for {id} at {NEW_PHONE}: {:?}",
            sandbox.messages().iter().map(|m| &m.to).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !sandbox
            .messages()
            .iter()
            .any(|m| m.to == "+15005550180" && m.body.contains(id)),
        "nothing to the old number"
    );
}

/// The new doctor (who signs in with a password) made ops in the Edit form: saved without
/// an error, and the record and the password login both hold the new role (one change).
async fn edit_role_of_a_password_user(system: &System, browser: &Browser) {
    browser
        .click(&format!(
            "#users tr[data-user=\"{NEW_DOCTOR}\"] button.edit"
        ))
        .await;
    let shown = wait_ready(
        browser,
        "the edit form with the stored role",
        "const f = document.getElementById('edit-user'); return f && !f.hidden && document.getElementById('edit-user-role').value;",
    )
    .await;
    assert_eq!(shown, json!("doctor"));
    browser.click("#edit-user-role option[value='ops']").await;
    browser.click("#edit-user-submit").await;
    let said = wait_ready(
        browser,
        "the saved role",
        "const r = document.getElementById('edit-user-result'); return r && r.dataset.outcome && r.textContent.includes('role') ? [r.dataset.outcome, r.textContent] : null;",
    )
    .await;
    assert_eq!(
        said,
        json!(["ok", format!("Saved {NEW_DOCTOR}: role.")]),
        "{said}"
    );
    let user = UserId::parse(NEW_DOCTOR).expect("id");
    let records = system.stores.records.as_ref();
    let stored = records.user(&user).await.expect("user");
    assert_eq!(stored.role, cw_core::Role::Ops);
    let login = records.login(&user).await.expect("login");
    assert_eq!(
        login.role,
        cw_core::Role::Ops,
        "the login has the new role too"
    );
}

/// The sequence numbers of the audit rows shown, top to bottom.
async fn audit_rows(browser: &Browser) -> Vec<u64> {
    let seqs = browser
        .run(
            "return [...document.querySelectorAll('#audit-events tbody tr')].map((r) => Number(r.dataset.seq))",
            json!([]),
        )
        .await;
    serde_json::from_value(seqs).expect("seq numbers")
}

/// Pages through the audit log: the newest page first, "Older" to the page before it
/// (contiguous, no event twice), "Newer" back; the chain's status shown on each page.
async fn audit_pages(system: &System, browser: &Browser) {
    let stored = system
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    let newest = audit_rows(browser).await;
    assert_eq!(newest.len(), 100, "a full first page");
    assert!(
        newest.windows(2).all(|w| w[0] == w[1] + 1),
        "newest first, contiguous: {newest:?}"
    );
    let head = newest[0];
    let said = browser
        .run(
            "return document.getElementById('chain-status').textContent",
            json!([]),
        )
        .await;
    assert!(
        said.as_str()
            .is_some_and(|t| t.contains(&format!("head {head};"))),
        "the first page ends at the head the api verified: {said}"
    );
    let disabled = |id: &'static str| {
        let script = format!("return document.getElementById('{id}').disabled");
        async move { browser.run(&script, json!([])).await }
    };
    assert_eq!(
        disabled("audit-newer").await,
        json!(true),
        "nothing newer than the head"
    );
    assert_eq!(disabled("audit-older").await, json!(false));
    browser.click("#audit-older").await;
    let bottom = newest[newest.len() - 1];
    let older = wait_ready(
        browser,
        "the older page",
        &format!("const t = document.getElementById('audit-events'); return t && t.dataset.newest === '{}';", bottom - 1),
    )
    .await;
    assert_eq!(older, json!(true));
    let rows = audit_rows(browser).await;
    assert_eq!(
        rows.first(),
        Some(&(bottom - 1)),
        "the page before the first: {rows:?}"
    );
    assert_eq!(rows.len() as u64, (bottom - 1).min(100), "{rows:?}");
    assert!(rows.windows(2).all(|w| w[0] == w[1] + 1), "{rows:?}");
    for (seq, event) in rows
        .iter()
        .zip(stored.iter().rev().skip_while(|e| e.seq > bottom - 1))
    {
        assert_eq!(*seq, event.seq, "the rows are the store's events");
    }
    let chain = browser
        .run(
            "return document.getElementById('chain-status').dataset.intact",
            json!([]),
        )
        .await;
    assert_eq!(chain, json!("1"), "the chain's status on every page");
    if rows.last() == Some(&1) {
        assert_eq!(
            disabled("audit-older").await,
            json!(true),
            "nothing older than seq 1"
        );
    }
    browser
        .screenshot(&screenshot_path("console-admin-audit-older.png"))
        .await;
    browser.click("#audit-newer").await;
    wait_ready(
        browser,
        "the newest page again",
        &format!("const t = document.getElementById('audit-events'); return t && t.dataset.newest === '{head}';"),
    )
    .await;
    assert_eq!(audit_rows(browser).await, newest);
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_users_devices_and_read_the_verified_audit_log_ops_see_charts_without_phi_and_break_glass_asks_a_reason()
 {
    let mut stack = Console::prepare(&FixtureSpec {
        patient_id: "e2e-console-admin",
        doctor_id: DOCTOR,
        device_id: "gw-console-admin",
        phone: Some("+15005550179"),
        email: None,
        hr_high_bpm: 70.0,
        for_s: 2.0,
    })
    .await;
    stack.start().await;
    let system = &stack.system;
    for (user, role) in [(ADMIN, "admin"), (OPS, "ops"), (DOCTOR, "doctor")] {
        admin_call(
            system,
            reqwest::Method::PUT,
            &format!("/v1/users/{user}/login"),
            json!({"role": role, "password": PASSWORD}),
        )
        .await;
    }
    let own_name = "Grace Worklist-Adminpage";
    let own = patient_with_phi(system, own_name, "MRN-ADMIN-UI-1", DOCTOR).await;
    let foreign_name = "Ada Breakglass-Adminpage";
    let foreign = patient_with_phi(system, foreign_name, "MRN-ADMIN-UI-2", "dr-stranger").await;
    // Two alarms of the doctor's patient, one triaged "false" (the fatigue report's
    // per-rule rate), and one of the foreign patient.
    let fired = now_ns() - 60 * NANOS_PER_SEC;
    let judged = Alert {
        value: 131.0,
        limit: 120.0,
        ..Alert::firing(own.clone(), RuleKind::HrHigh, Priority::High, fired)
    };
    let open = Alert::firing(own.clone(), RuleKind::Pause, Priority::Medium, fired);
    let theirs = Alert::firing(foreign.clone(), RuleKind::HrHigh, Priority::High, fired);
    for alert in [&judged, &open, &theirs] {
        system
            .stores
            .records
            .open_alert(alert)
            .await
            .expect("alert opened");
    }
    store_record_100(system, &own, fired - 35 * NANOS_PER_SEC, 70).await;
    admin_call(
        system,
        reqwest::Method::POST,
        &format!("/v1/alerts/{}/triage", judged.id),
        json!({"verdict": "false"}),
    )
    .await;

    // More than a page of audit events: 120 audited reads before the walk's own.
    for _ in 0..120 {
        admin_call(system, reqwest::Method::GET, "/v1/users", Value::Null).await;
    }

    let browser = Browser::start(1400, 1000).await;
    let console = system.api_url("/console/");
    let mut violations = Vec::new();
    browser.goto(&console).await;
    wait_ready(
        &browser,
        "the sign-in form",
        "return document.querySelector('form#signin')",
    )
    .await;
    // The check can fail: an input without a label, planted in the page, is found
    // (axe's `label` rule, critical), and the page without it is clean.
    browser
        .run(
            "const i = document.createElement('input'); i.id = 'axe-probe'; document.body.append(i); return true;",
            json!([]),
        )
        .await;
    let planted = cw_e2e::axe::serious_violations(&browser).await;
    assert!(
        planted.iter().any(|v| v.starts_with("label [critical]")),
        "axe did not find the planted unlabelled input: {planted:?}"
    );
    browser
        .run(
            "document.getElementById('axe-probe').remove(); return true;",
            json!([]),
        )
        .await;
    accessibility(&browser, "sign-in", &mut violations).await;

    // --- The admin: users, roles and assignments.
    sign_in_to(
        &browser,
        &console,
        ADMIN,
        PASSWORD,
        "the users page, an admin's first",
        "const t = document.getElementById('users'); return t && t.dataset.ready === '1';",
    )
    .await;
    let nav = browser
        .run(
            "return [...document.querySelectorAll('#nav a')].map((a) => a.textContent)",
            json!([]),
        )
        .await;
    assert_eq!(
        nav,
        json!(["Users", "Devices", "Audit log", "Alarm fatigue"])
    );
    accessibility(&browser, "users", &mut violations).await;
    browser.type_into("#new-user-id", NEW_DOCTOR).await;
    browser.click("#new-user-role option[value='doctor']").await;
    browser
        .type_into("#new-user-password", "a new doctor's password")
        .await;
    browser.type_into("#new-user-phone", "+15005550180").await;
    browser.click("#new-user-submit").await;
    wait_ready(
        &browser,
        "the new user's row",
        &format!("return document.querySelector('#users tr[data-user=\"{NEW_DOCTOR}\"]')"),
    )
    .await;
    let listed = admin_call(system, reqwest::Method::GET, "/v1/users", Value::Null).await;
    let made = listed
        .as_array()
        .and_then(|l| l.iter().find(|u| u["user"] == NEW_DOCTOR))
        .cloned()
        .unwrap_or_else(|| panic!("{NEW_DOCTOR} not in GET /v1/users: {listed}"));
    assert_eq!(
        (&made["role"], &made["has_login"], &made["phone_set"]),
        (&json!("doctor"), &json!(true), &json!(true)),
        "{made}"
    );
    // The new doctor gets the doctor's patient, named by its MRN (looked up, never in a URL).
    browser
        .click(&format!("#assign-doctor option[value='{NEW_DOCTOR}']"))
        .await;
    browser.type_into("#assign-patient", "MRN-ADMIN-UI-1").await;
    browser.click("#assign-submit").await;
    let said = wait_ready(
        &browser,
        "the assignment's answer",
        "const r = document.getElementById('assign-result'); return r && r.dataset.outcome ? [r.dataset.outcome, r.textContent] : null;",
    )
    .await;
    assert_eq!(said[0], json!("ok"), "{said}");
    let stored = admin_call(
        system,
        reqwest::Method::GET,
        &format!("/v1/patients/{own}"),
        Value::Null,
    )
    .await;
    assert_eq!(stored["doctors"], json!([DOCTOR, NEW_DOCTOR]), "{stored}");
    browser
        .screenshot(&screenshot_path("console-admin-users.png"))
        .await;
    edit_phone_then_page(&stack.sandbox, system, &browser, &open).await;
    edit_role_of_a_password_user(system, &browser).await;

    // --- Devices: register, issue a token, pin a certificate, revoke.
    browser.click("#nav a[href='#/admin/devices']").await;
    wait_ready(
        &browser,
        "the devices page",
        "const t = document.getElementById('devices'); return t && t.dataset.ready === '1';",
    )
    .await;
    accessibility(&browser, "devices", &mut violations).await;
    browser.type_into("#new-device-patient", own.as_str()).await;
    browser.click("#new-device-submit").await;
    let first = wait_ready(
        &browser,
        "the registered device's token",
        "const t = document.getElementById('device-token'); return t && t.textContent ? [t.dataset.device, t.textContent] : null;",
    )
    .await;
    let device = DeviceId::parse(first[0].as_str().expect("device id")).expect("id");
    let first_token = first[1].as_str().expect("token").to_owned();
    assert_eq!(first_token.len(), 64, "{first_token}");
    let stored = system
        .stores
        .records
        .device(&device)
        .await
        .expect("device stored");
    assert_eq!(stored.patient, own);
    assert_eq!(
        stored.token_sha256,
        cw_core::device::token_sha256(&first_token)
    );
    let row = format!("#devices tr[data-device='{device}']");
    wait_ready(
        &browser,
        "the device's row",
        &format!("return document.querySelector(\"{row}\")"),
    )
    .await;
    browser.click(&format!("{row} button.issue-token")).await;
    let second = wait_ready(
        &browser,
        "the new token",
        "const t = document.getElementById('device-token'); return t.textContent !== arguments[0] ? t.textContent : null;"
            .replace("arguments[0]", &format!("'{first_token}'"))
            .as_str(),
    )
    .await;
    let second_token = second.as_str().expect("token");
    let stored = system.stores.records.device(&device).await.expect("device");
    assert_eq!(
        stored.token_sha256,
        cw_core::device::token_sha256(second_token),
        "the store holds the issued token's hash"
    );
    let pin = "ab".repeat(32);
    wait_ready(
        &browser,
        "the row after the new token",
        &format!("return document.querySelector(\"{row} input.cert-pin\")"),
    )
    .await;
    browser
        .type_into(&format!("{row} input.cert-pin"), &pin)
        .await;
    browser.click(&format!("{row} button.pin")).await;
    wait_ready(
        &browser,
        "the pinned certificate in the row",
        &format!("const c = document.querySelector(\"{row} td.cert\"); return c && c.textContent === '{pin}';"),
    )
    .await;
    browser.click(&format!("{row} button.revoke")).await;
    wait_ready(
        &browser,
        "the revoked device",
        &format!("const c = document.querySelector(\"{row} td.state\"); return c && c.textContent === 'revoked';"),
    )
    .await;
    let stored = system.stores.records.device(&device).await.expect("device");
    assert!(stored.revoked);
    assert_eq!(stored.cert_sha256.as_deref(), Some(pin.as_str()));
    browser
        .screenshot(&screenshot_path("console-admin-devices.png"))
        .await;

    // --- The audit log: the api verified the chain; the device's registration is in it.
    browser.click("#nav a[href='#/admin/audit']").await;
    let chain = wait_ready(
        &browser,
        "the chain's status",
        "const s = document.getElementById('chain-status'); return s && document.getElementById('audit-events') ? [s.dataset.intact, s.textContent] : null;",
    )
    .await;
    assert_eq!(chain[0], json!("1"), "{chain}");
    assert!(
        chain[1]
            .as_str()
            .is_some_and(|t| t.starts_with("Chain verified")),
        "{chain}"
    );
    let actions = browser
        .run(
            "return [...document.querySelectorAll('#audit-events tbody tr td:nth-child(5)')].map((c) => c.textContent)",
            json!([]),
        )
        .await;
    assert!(
        actions
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "POST /v1/devices")),
        "{actions}"
    );
    accessibility(&browser, "audit", &mut violations).await;
    browser
        .screenshot(&screenshot_path("console-admin-audit.png"))
        .await;
    audit_pages(system, &browser).await;
    sign_out(&browser).await;

    // --- Ops: the fatigue charts, and no PHI anywhere the role can go.
    sign_in_to(
        &browser,
        &console,
        OPS,
        PASSWORD,
        "the fatigue page, ops' first",
        "const p = document.getElementById('fatigue-page'); return p && p.dataset.ready === '1';",
    )
    .await;
    let nav = browser
        .run(
            "return [...document.querySelectorAll('#nav a')].map((a) => a.textContent)",
            json!([]),
        )
        .await;
    assert_eq!(nav, json!(["Alarm fatigue"]));
    let bars = browser
        .run(
            "return [...document.querySelectorAll('#chart-false-alarms g.bar')].map((g) => [g.dataset.label, Number(g.dataset.value), Number(g.dataset.width)])",
            json!([]),
        )
        .await;
    // One rule triaged: hr_high, its one triaged alarm false → rate 1, the full bar.
    assert_eq!(bars.as_array().map(Vec::len), Some(1), "{bars}");
    assert_eq!(
        (&bars[0][0], &bars[0][1]),
        (&json!("hr_high"), &json!(1)),
        "{bars}"
    );
    let full = browser
        .run(
            "return Number(document.getElementById('chart-false-alarms').dataset.full)",
            json!([]),
        )
        .await;
    assert_eq!(bars[0][2].as_f64(), full.as_f64(), "{bars}: a full bar");
    let per_day = browser
        .run(
            "return [...document.querySelectorAll('#chart-days g.bar')].reduce((n, g) => n + Number(g.dataset.value), 0)",
            json!([]),
        )
        .await;
    assert_eq!(per_day, json!(3), "the three alarms in the days chart");
    accessibility(&browser, "fatigue (ops)", &mut violations).await;
    browser
        .screenshot(&screenshot_path("console-fatigue-ops.png"))
        .await;
    let phi = [own_name, foreign_name, "1941-07-19", "MRN-ADMIN-UI"];
    let text = page_text(&browser).await;
    assert!(
        !phi.iter().any(|p| text.contains(p)),
        "PHI on the ops page:\n{text}"
    );
    // A page outside the role opens the role's own; a patient by URL is refused, with no
    // break-glass (a doctor's) and no PHI.
    visit(
        &browser,
        "#/admin/users",
        "ops on the fatigue page again",
        "const p = document.getElementById('fatigue-page'); return p && p.dataset.ready === '1' && location.hash === '#/reports/fatigue';",
    )
    .await;
    visit(
        &browser,
        &format!("#/patient/{own}"),
        "the refusal of a patient to ops",
        "return document.getElementById('denied')",
    )
    .await;
    let text = page_text(&browser).await;
    assert!(
        !phi.iter().any(|p| text.contains(p)),
        "PHI shown to ops:\n{text}"
    );
    let offered = browser
        .run(
            "return document.querySelectorAll('#break-glass, #patient-name, #sweep').length",
            json!([]),
        )
        .await;
    assert_eq!(offered, json!(0));
    sign_out(&browser).await;

    // --- A doctor: the worklist, an alert's detail, the patient view, and break-glass.
    sign_in(&browser, &console, DOCTOR, PASSWORD).await;
    accessibility(&browser, "worklist", &mut violations).await;
    visit(
        &browser,
        &format!("#/patient/{own}/alert/{}", judged.id),
        "the alert detail",
        "return document.querySelector('.alarm-head') && document.querySelector('#strip-box svg.strip g.beat')",
    )
    .await;
    accessibility(&browser, "alert detail", &mut violations).await;
    visit(
        &browser,
        &format!("#/patient/{own}"),
        "the patient view",
        "return document.getElementById('patient-name') && document.getElementById('thresholds-form')",
    )
    .await;
    accessibility(&browser, "patient view", &mut violations).await;
    visit(
        &browser,
        &format!("#/patient/{foreign}"),
        "the break-glass form on a refused patient",
        "return document.getElementById('denied') && document.getElementById('break-glass')",
    )
    .await;
    accessibility(&browser, "break-glass", &mut violations).await;
    // Without a reason the api refuses, and the page says why beside the field.
    browser.click("#break-glass-submit").await;
    let refused = wait_ready(
        &browser,
        "the reason's refusal",
        "const e = document.getElementById('break-glass-error'); const r = document.getElementById('break-glass-reason'); return e && e.textContent ? [e.textContent, r.getAttribute('aria-invalid')] : null;",
    )
    .await;
    assert_eq!(
        refused,
        json!(["reason is 10 to 500 characters", "true"]),
        "{refused}"
    );
    let text = page_text(&browser).await;
    assert!(
        !text.contains(foreign_name),
        "no access yet, no name:\n{text}"
    );
    browser
        .screenshot(&screenshot_path("console-break-glass.png"))
        .await;
    let reason = "patient collapsed in ward 4, covering doctor unavailable";
    browser.type_into("#break-glass-reason", reason).await;
    browser.click("#break-glass-submit").await;
    let name = wait_ready(
        &browser,
        "the patient under break-glass",
        "const n = document.getElementById('patient-name'); return n && n.textContent;",
    )
    .await;
    assert_eq!(name, json!(foreign_name));
    let events = system
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    assert!(
        events.iter().any(|e| e.entry.action == "break_glass"
            && e.entry.actor == DOCTOR
            && e.entry.reason == reason
            && e.entry.patient.as_ref() == Some(&foreign)),
        "the grant with its reason in the audit chain"
    );
    browser
        .screenshot(&screenshot_path("console-break-glass-open.png"))
        .await;

    assert!(
        violations.is_empty(),
        "axe-core: serious or critical violations:\n{}",
        violations.join("\n")
    );
}
