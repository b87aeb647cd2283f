//! Attacks on the audit trail (issue 13, findings 4, 5 and 9; `docs/security.md`,
//! "Audit trail"). Each test is the attack, run against the api and its real store; the
//! assertion is what the attacker must not get away with.

use cw_core::Role;
use cw_core::audit::{AuditEvent, GENESIS_HASH, chain_hash};
use cw_core::secret::ExposeSecret;
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use mongodb::bson::doc;
use serde_json::Value;

/// Doctor A reads their patient's thresholds `n` times: `n` allowed events, and whatever
/// else the api audits.
async fn some_audited_reads(h: &ApiHarness, n: usize) {
    let token = h.token(&h.doctor_a, Role::Doctor);
    for _ in 0..n {
        let response = h
            .http
            .get(h.url(&format!("/v1/patients/{}/thresholds", h.own)))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        assert!(response.status().is_success(), "{}", response.status());
    }
}

/// What `cardiowatch audit verify --config api.toml` answers for the api's own config
/// (its `[storage]` section, with whatever audit settings the api runs with).
async fn audit_verify_passes(h: &ApiHarness) -> bool {
    let config = h.dir.path().join("verify-api.toml");
    let storage = toml::Value::try_from(&h.storage).expect("storage config as TOML");
    let mut root = toml::Table::new();
    root.insert("storage".into(), storage);
    std::fs::write(&config, toml::to_string(&root).expect("TOML")).expect("config written");
    cardiowatch::audit::verify(&cardiowatch::store_args::StoreArgs::file(&config), &[])
        .await
        .expect("verify runs")
}

async fn all_events(h: &ApiHarness) -> Vec<AuditEvent> {
    h.stores
        .records
        .audit_events(0, 100_000)
        .await
        .expect("audit read")
}

/// The insider's forgery: every event rewritten as they please and the whole chain
/// re-sealed from the genesis with the published algorithm — everything except a key
/// they do not have. Fields the insider does not understand (a key id) are dropped so the
/// records look like ordinary unkeyed ones.
fn reseal_without_the_key(events: &[AuditEvent], edit: impl Fn(&mut AuditEvent)) -> Vec<Value> {
    let mut prev = GENESIS_HASH.to_owned();
    let mut out = Vec::new();
    for event in events {
        let mut forged = event.clone();
        edit(&mut forged);
        forged.prev_hash = prev.clone();
        forged.hash = chain_hash(&forged.entry, forged.seq, &prev);
        prev = forged.hash.clone();
        let mut doc = serde_json::to_value(&forged).expect("event as JSON");
        if let Some(fields) = doc.as_object_mut() {
            fields.retain(|k, _| !k.starts_with("key"));
        }
        out.push(doc);
    }
    out
}

/// Writes `docs` over the stored events, past whatever the store does to refuse it.
async fn overwrite_raw(h: &ApiHarness, mode: Mode, docs: &[Value]) {
    match mode {
        Mode::Embedded => {
            let conn = cw_storage::sqlite::connect(&h.storage).expect("raw open");
            conn.execute_batch("DROP TRIGGER audit_no_update;")
                .expect("drop trigger");
            for doc in docs {
                conn.execute(
                    "UPDATE audit_events SET doc = ?1, actor = ?2, outcome = ?3 WHERE seq = ?4",
                    rusqlite::params![
                        doc.to_string(),
                        doc["actor"].as_str(),
                        doc["outcome"].as_str(),
                        doc["seq"].as_i64()
                    ],
                )
                .expect("raw update");
            }
        }
        Mode::Servers => {
            let client = mongodb::Client::with_uri_str(h.storage.mongo.uri.expose_secret())
                .await
                .expect("raw client");
            let coll = client
                .database(&h.storage.mongo.database)
                .collection::<mongodb::bson::Document>("audit_events");
            for doc in docs {
                let mut raw = mongodb::bson::to_document(doc).expect("as BSON");
                let seq = doc["seq"].as_i64().expect("seq");
                raw.remove("seq");
                raw.insert("_id", seq);
                coll.replace_one(doc! { "_id": seq }, raw)
                    .await
                    .expect("raw replace");
            }
            client.shutdown().await;
        }
    }
}

async fn an_insider_reseals_a_denial_into_an_allowed_read(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    some_audited_reads(&h, 3).await;
    // The denial the insider wants gone: doctor A reading doctor B's patient.
    let token = h.token(&h.doctor_a, Role::Doctor);
    let denied = h
        .http
        .get(h.url(&format!("/v1/patients/{}/thresholds", h.other)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(denied.status(), 403);
    some_audited_reads(&h, 3).await;
    assert!(audit_verify_passes(&h).await, "the untouched log verifies");

    let events = all_events(&h).await;
    assert!(
        events
            .iter()
            .any(|e| e.entry.status == 403 && e.entry.actor == h.doctor_a.as_str()),
        "the denial is audited"
    );
    let forged = reseal_without_the_key(&events, |e| {
        if e.entry.status == 403 {
            e.entry.outcome = cw_core::audit::AuditOutcome::Allowed;
            e.entry.status = 200;
        }
    });
    overwrite_raw(&h, mode, &forged).await;
    assert!(
        !audit_verify_passes(&h).await,
        "a chain re-sealed without the audit key must fail verification"
    );
}

#[tokio::test]
async fn a_store_insider_who_reseals_the_audit_chain_is_detected() {
    an_insider_reseals_a_denial_into_an_allowed_read(Mode::Embedded).await;
}

#[tokio::test]
async fn a_mongo_insider_who_reseals_the_audit_chain_is_detected() {
    an_insider_reseals_a_denial_into_an_allowed_read(Mode::Servers).await;
}

#[tokio::test]
async fn a_store_insider_who_cuts_off_the_newest_audit_events_is_detected() {
    let h = ApiHarness::start(Mode::Embedded).await;
    some_audited_reads(&h, 6).await;
    assert!(audit_verify_passes(&h).await, "the untouched log verifies");
    let head = all_events(&h).await.last().expect("events").seq;
    let conn = cw_storage::sqlite::connect(&h.storage).expect("raw open");
    conn.execute_batch("DROP TRIGGER audit_no_delete;")
        .expect("drop trigger");
    conn.execute(
        "DELETE FROM audit_events WHERE seq > ?1",
        [i64::try_from(head).expect("seq") - 3],
    )
    .expect("raw delete");
    assert!(
        !audit_verify_passes(&h).await,
        "cutting the newest events off behind a checkpoint must fail verification"
    );
}

#[tokio::test]
async fn a_mongo_insider_who_cuts_off_the_newest_audit_events_is_detected() {
    let h = ApiHarness::start(Mode::Servers).await;
    some_audited_reads(&h, 6).await;
    assert!(audit_verify_passes(&h).await, "the untouched log verifies");
    let head = all_events(&h).await.last().expect("events").seq;
    let client = mongodb::Client::with_uri_str(h.storage.mongo.uri.expose_secret())
        .await
        .expect("raw client");
    client
        .database(&h.storage.mongo.database)
        .collection::<mongodb::bson::Document>("audit_events")
        .delete_many(doc! { "_id": { "$gt": i64::try_from(head).expect("seq") - 3 } })
        .await
        .expect("raw delete");
    client.shutdown().await;
    assert!(
        !audit_verify_passes(&h).await,
        "cutting the newest events off behind a checkpoint must fail verification"
    );
}

/// The events of one request, by the id its response carried.
async fn events_of(h: &ApiHarness, response: &reqwest::Response) -> Vec<AuditEvent> {
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    all_events(h)
        .await
        .into_iter()
        .filter(|e| e.entry.request_id == request_id)
        .collect()
}

#[tokio::test]
async fn a_doctor_who_reads_phi_by_mrn_lookup_is_audited_against_that_patient() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let lookup = |mrn: String| {
        h.http
            .post(h.url("/v1/patients/lookup"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "mrn": mrn }))
            .send()
    };

    let found = lookup(h.own_mrn.clone()).await.expect("lookup");
    assert_eq!(found.status(), 200);
    let events = events_of(&h, &found).await;
    let body: Value = found.json().await.expect("json");
    assert_eq!(
        body["id"],
        h.own.as_str(),
        "PHI of the own patient came back"
    );
    let done = events
        .iter()
        .find(|e| e.entry.outcome == cw_core::audit::AuditOutcome::Allowed)
        .expect("the read is audited");
    assert_eq!(
        done.entry.patient.as_ref(),
        Some(&h.own),
        "the audit record must name the patient whose PHI was returned"
    );
    assert!(
        events
            .iter()
            .all(|e| e.entry.patient.as_ref().is_none_or(|p| *p == h.own)),
        "no record names a patient called `lookup`: {events:?}"
    );

    // Probing another doctor's patient by MRN is refused, and the refusal says whose.
    let probe = lookup(h.other_mrn.clone()).await.expect("lookup");
    assert_eq!(probe.status(), 403);
    let events = events_of(&h, &probe).await;
    let denied = events
        .iter()
        .find(|e| e.entry.outcome == cw_core::audit::AuditOutcome::Denied)
        .expect("the probe is audited");
    assert_eq!(denied.entry.patient.as_ref(), Some(&h.other));
}

/// How many requests an audit record stands for: the leading count of an anonymous
/// refusal's `reason` (`services/api/src/anonymous_denials.rs`), else one.
fn requests_of(event: &AuditEvent) -> u64 {
    event
        .entry
        .reason
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Finding 9: 100 anonymous requests wrote 201 fsync'd audit records. Now the refusals of
/// one source are one record at once and one summary per window, whose counts add up to
/// every request; an authenticated denial is still one record each.
#[tokio::test]
async fn a_flood_of_anonymous_requests_writes_a_bounded_number_of_audit_records() {
    const FLOOD: u64 = 100;
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| cfg.anonymous_denials.window_s = 2).await;
    for i in 0..FLOOD {
        let request = if i % 2 == 0 {
            // No token, on a change route (it used to write an attempt record too).
            h.http
                .post(h.url("/v1/patients"))
                .json(&serde_json::json!({}))
        } else {
            h.http
                .get(h.url("/v1/patients"))
                .bearer_auth("forged.token.value")
        };
        let status = request.send().await.expect("request").status();
        assert_eq!(status, 401);
    }
    let doctor = h.token(&h.doctor_a, Role::Doctor);
    for _ in 0..3 {
        let foreign = h
            .http
            .get(h.url(&format!("/v1/patients/{}/thresholds", h.other)))
            .bearer_auth(&doctor)
            .send()
            .await
            .expect("request");
        assert_eq!(foreign.status(), 403);
    }
    // The summary comes when the source's window ends.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let anonymous = loop {
        let anonymous: Vec<AuditEvent> = all_events(&h)
            .await
            .into_iter()
            .filter(|e| e.entry.actor == "anonymous")
            .collect();
        let counted: u64 = anonymous.iter().map(requests_of).sum();
        if counted >= FLOOD || tokio::time::Instant::now() > deadline {
            break anonymous;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        anonymous.len() <= 4,
        "{} audit records for {FLOOD} anonymous requests",
        anonymous.len()
    );
    assert_eq!(
        anonymous.iter().map(requests_of).sum::<u64>(),
        FLOOD,
        "the counts add up to every request: {anonymous:?}"
    );
    assert!(
        anonymous
            .iter()
            .all(|e| e.entry.outcome == cw_core::audit::AuditOutcome::Denied
                && e.entry.source.starts_with("127.0.0.1")),
        "each stays a denial naming its source: {anonymous:?}"
    );
    let authenticated = all_events(&h)
        .await
        .into_iter()
        .filter(|e| {
            e.entry.actor == h.doctor_a.as_str()
                && e.entry.outcome == cw_core::audit::AuditOutcome::Denied
        })
        .count();
    assert_eq!(
        authenticated, 3,
        "an authenticated denial is one record each"
    );
    assert!(audit_verify_passes(&h).await, "the chain verifies");
}
