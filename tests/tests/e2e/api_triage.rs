//! Triage through the api (issue 16): a doctor's verdict on their patient's alarm is
//! stored on the alert (both backends), shown with it, audited with its note, counted
//! per rule by the fatigue report; bad input gets typed errors and stores nothing, and
//! another doctor's alarm is refused.

use cw_core::Role;
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use serde_json::{Value, json};

async fn triage(
    h: &ApiHarness,
    token: &str,
    alert: &cw_core::AlertId,
    body: Value,
) -> (u16, Value) {
    let response = h
        .http
        .post(h.url(&format!("/v1/alerts/{alert}/triage")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn a_verdict_is_stored_shown_audited_and_counted(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    let token = h.token(&h.doctor_a, Role::Doctor);

    for (body, status, code, field) in [
        (json!({"verdict": "maybe"}), 422, "invalid", Some("verdict")),
        (
            json!({"verdict": "false", "note": "x".repeat(1_001)}),
            422,
            "invalid",
            Some("note"),
        ),
        (
            json!({"verdict": "false", "severity": 3}),
            400,
            "bad_request",
            None,
        ),
        (json!({"note": "no verdict"}), 400, "bad_request", None),
    ] {
        let (got, error) = triage(&h, &token, &h.own_alert, body).await;
        assert_eq!(got, status, "{error}");
        assert_eq!(error["error"]["code"], code, "{error}");
        if let Some(field) = field {
            assert_eq!(error["error"]["field"], field, "{error}");
        }
    }
    let stored = h
        .stores
        .records
        .get_alert(&h.own_alert)
        .await
        .expect("alert");
    assert!(stored.triage.is_none(), "a refused triage stores nothing");

    // Another doctor's alarm: refused like any foreign alert.
    let (got, _) = triage(&h, &token, &h.other_alert, json!({"verdict": "false"})).await;
    assert_eq!(got, 403);

    let (got, shown) = triage(
        &h,
        &token,
        &h.own_alert,
        json!({"verdict": "artifact", "note": "  motion while walking  "}),
    )
    .await;
    assert_eq!(got, 200, "{shown}");
    assert_eq!(shown["triage"]["verdict"], "artifact");
    assert_eq!(shown["triage"]["note"], "motion while walking");
    assert_eq!(shown["triage"]["by"], h.doctor_a.as_str());
    assert_eq!(shown["state"], "firing", "triage leaves the state alone");
    let stored = h
        .stores
        .records
        .get_alert(&h.own_alert)
        .await
        .expect("alert");
    assert_eq!(
        stored.triage.as_ref().map(|t| t.verdict),
        Some(cw_core::triage::Verdict::Artifact)
    );
    let listed: Value = h
        .http
        .get(h.url(&format!("/v1/alerts?patient={}", h.own)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed[0]["triage"]["verdict"], "artifact", "{listed}");

    let audit = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    assert!(
        audit.iter().any(|e| e.entry.action == "alert_triage"
            && e.entry.actor == h.doctor_a.as_str()
            && e.entry.reason == "artifact: motion while walking"),
        "the triage is audited with its note"
    );

    let report: Value = h
        .http
        .get(h.url("/v1/reports/fatigue?days=7"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("json");
    assert_eq!(
        report["rules"],
        json!([{"rule": "hr_high", "alarms": 1, "triaged": 1, "confirmed": 0,
                "artifact": 1, "false_alarms": 0, "false_alarm_rate": 1.0}]),
        "{report}"
    );

    // A second look replaces the verdict; the report follows.
    let (got, _) = triage(&h, &token, &h.own_alert, json!({"verdict": "confirmed"})).await;
    assert_eq!(got, 200);
    let report: Value = h
        .http
        .get(h.url("/v1/reports/fatigue?days=7"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("json");
    assert_eq!(report["rules"][0]["confirmed"], 1, "{report}");
    assert_eq!(report["rules"][0]["false_alarm_rate"], 0.0, "{report}");
}

#[tokio::test]
async fn embedded_a_verdict_is_stored_shown_audited_and_counted() {
    a_verdict_is_stored_shown_audited_and_counted(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_a_verdict_is_stored_shown_audited_and_counted() {
    a_verdict_is_stored_shown_audited_and_counted(Mode::Servers).await;
}
