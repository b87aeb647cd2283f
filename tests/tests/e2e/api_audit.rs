//! What the audit trail guarantees at the api: no PHI access without an audit record,
//! request ids tie responses to records, and break-glass is reasoned, time-bound and loud.

use cw_core::Role;
use cw_core::audit::AuditOutcome;
use cw_core::secret::ExposeSecret;
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_request_fails_when_its_audit_write_fails() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    // Make the real store refuse audit inserts (a full disk or a lost server looks the
    // same to the api: the append returns an error).
    let conn = rusqlite_open(&h.storage);
    conn.execute_batch(
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .expect("trigger");
    let read = h
        .http
        .get(h.url(&format!("/v1/patients/{}/thresholds", h.own)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(read.status(), 503);
    let body: Value = read.json().await.expect("json");
    assert_eq!(body["error"]["code"], "audit_unavailable");
    assert!(
        body.get("hr_high").is_none(),
        "no data without an audit record"
    );

    let write = h
        .http
        .put(h.url(&format!("/v1/patients/{}/thresholds", h.own)))
        .bearer_auth(&token)
        .json(&json!({"hr_high": {"bpm": 150.0, "priority": "high"}}))
        .send()
        .await
        .expect("request");
    assert_eq!(write.status(), 503);
    assert!(
        h.stores.records.policy(&h.own).await.is_err(),
        "the change must not be made unaudited"
    );
}

#[tokio::test]
async fn every_response_has_a_request_id_that_names_its_audit_record() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let response = h
        .http
        .get(h.url(&format!("/v1/patients/{}/thresholds", h.own)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    let events = h.stores.records.audit_events(1, 100).await.expect("audit");
    let event = events
        .iter()
        .find(|e| e.entry.request_id == id)
        .expect("audit record with the request id");
    assert_eq!(event.entry.actor, h.doctor_a.as_str());
    assert_eq!(event.entry.patient.as_ref(), Some(&h.own));
    assert_eq!(event.entry.outcome, AuditOutcome::Allowed);
    assert_eq!(event.entry.action, "GET /v1/patients/{id}/thresholds");
    assert!(event.entry.source.starts_with("127.0.0.1:"));
}

#[tokio::test]
async fn break_glass_needs_a_reason_expires_and_is_audited() {
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| cfg.auth.break_glass_ttl_s = 2).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let other_thresholds = h.url(&format!("/v1/patients/{}/thresholds", h.other));
    let get_other = || async {
        h.http
            .get(&other_thresholds)
            .bearer_auth(&token)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    };
    assert_eq!(get_other().await, 403);
    let glass = h.url(&format!("/v1/patients/{}/break-glass", h.other));
    let short = h
        .http
        .post(&glass)
        .bearer_auth(&token)
        .json(&json!({"reason": "need"}))
        .send()
        .await
        .expect("request");
    assert_eq!(short.status(), 422);
    assert_eq!(get_other().await, 403, "a refused grant grants nothing");

    let reason = "patient arrested, on-call cover for dr B";
    let granted = h
        .http
        .post(&glass)
        .bearer_auth(&token)
        .json(&json!({ "reason": reason }))
        .send()
        .await
        .expect("request");
    assert_eq!(granted.status(), 200);
    assert_eq!(get_other().await, 200);

    let events = h.stores.records.audit_events(1, 1000).await.expect("audit");
    let grant = events
        .iter()
        .find(|e| e.entry.action == "break_glass")
        .expect("grant audited");
    assert_eq!(grant.entry.reason, reason);
    assert_eq!(grant.entry.patient.as_ref(), Some(&h.other));
    let access = events
        .iter()
        .find(|e| e.entry.action == "break_glass_access")
        .expect("each access under the grant audited");
    assert_eq!(access.entry.reason, reason);
    assert_eq!(access.entry.actor, h.doctor_a.as_str());

    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(get_other().await, 403, "the grant expired");
}

fn rusqlite_open(storage: &cw_storage::StorageConfig) -> rusqlite::Connection {
    cw_storage::sqlite::connect(storage).expect("raw open")
}

/// The config `cardiowatch audit …` reads: the harness's store and audit key.
fn cli_config(h: &ApiHarness) -> std::path::PathBuf {
    let config = h.dir.path().join("api.toml");
    std::fs::write(
        &config,
        format!(
            "{}[storage.audit]\nkey_id = \"{}\"\nkey_hex = \"{}\"\n",
            cw_e2e::env::embedded_store_toml(&h.storage),
            h.storage.audit.key_id,
            h.storage
                .audit
                .key_hex
                .as_ref()
                .expect("the harness sets a key")
                .expose_secret(),
        ),
    )
    .expect("config written");
    config
}

#[tokio::test]
async fn audit_verify_command_passes_an_intact_log_and_fails_a_tampered_one() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    for _ in 0..3 {
        h.http
            .get(h.url(&format!("/v1/patients/{}/thresholds", h.own)))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
    }
    let config = cli_config(&h);
    assert!(
        cardiowatch::audit::verify(&cardiowatch::store_args::StoreArgs::file(&config), &[])
            .await
            .expect("verify runs")
    );
    rusqlite_open(&h.storage)
        .execute_batch(
            "DROP TRIGGER audit_no_update;
             UPDATE audit_events SET doc = json_set(doc, '$.outcome', 'denied') WHERE seq = 2;",
        )
        .expect("tamper");
    assert!(
        !cardiowatch::audit::verify(&cardiowatch::store_args::StoreArgs::file(&config), &[])
            .await
            .expect("verify runs")
    );
}

/// `cardiowatch audit archive` moves the api's old events into a file; `audit verify`
/// then needs it, and the api's later appends go on from the live head.
#[tokio::test]
async fn audit_archive_command_moves_old_events_and_verify_checks_them_with_the_live_log() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let read = || async {
        h.http
            .get(h.url(&format!("/v1/patients/{}/thresholds", h.own)))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
    };
    for _ in 0..3 {
        read().await;
    }
    let config = cli_config(&h);
    let store = cardiowatch::store_args::StoreArgs::file(&config);
    let archive = h.dir.path().join("audit-archive-1.jsonl");
    cardiowatch::audit::archive(&store, 0, &archive)
        .await
        .expect("archive runs");
    let archived = cw_storage::audit_archive::read(&archive).expect("archive reads");
    // Three reads audited; all but the newest event (new appends link to it) move.
    assert!(archived.len() >= 2, "{} events archived", archived.len());
    let archives = [archive.clone()];

    read().await;
    assert!(
        cardiowatch::audit::verify(&store, &archives)
            .await
            .expect("verify runs"),
        "archive + live log must be one intact chain"
    );
    assert!(
        !cardiowatch::audit::verify(&store, &[])
            .await
            .expect("verify runs"),
        "the live log alone lacks its start"
    );
    assert!(
        cardiowatch::audit::archive(&store, 0, &archive)
            .await
            .is_err(),
        "an archive file is never overwritten"
    );
}
