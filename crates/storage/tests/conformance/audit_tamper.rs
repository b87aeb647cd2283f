//! `verify_chain` (what `cardiowatch audit verify` runs) finds an edited, a deleted and a
//! reordered record that someone with raw database access tampered with — in the
//! embedded file and in MongoDB — and, with the audit key and the checkpoints kept
//! outside the store, a chain re-sealed without the key and a cut-off tail.

use crate::audit::entry;
use crate::backends::Backend;
use cw_core::PatientId;
use cw_core::audit::{AuditEvent, AuditOutcome, ChainFault, GENESIS_HASH, chain_hash};
use cw_core::secret::ExposeSecret;
use cw_storage::audit::verify_chain;
use mongodb::bson::doc;

async fn append_twelve(b: &Backend) {
    let patient = PatientId::random();
    for i in 0..12 {
        let e = entry(&format!("dr-{i}"), "read", &patient, AuditOutcome::Allowed);
        b.stores.records.append_audit(&e).await.expect("append");
    }
    let report = verify_chain(b.stores.records.as_ref(), &b.cfg.audit)
        .await
        .expect("verify");
    assert!(report.faults.is_empty(), "{:?}", report.faults);
}

/// Edit 3, delete 6, swap 9 and 10. The swapped pair also no longer matches the
/// checkpoints written after 9 and 10 (an edit in place keeps its hash, so 3 does).
const EXPECTED: [ChainFault; 6] = [
    ChainFault::Edited { seq: 3 },
    ChainFault::Deleted { before_seq: 7 },
    ChainFault::Reordered { seq: 9 },
    ChainFault::Reordered { seq: 10 },
    ChainFault::Rewritten { seq: 9 },
    ChainFault::Rewritten { seq: 10 },
];

#[tokio::test]
async fn embedded_verify_finds_an_edited_a_deleted_and_a_reordered_record() {
    let b = Backend::embedded().await;
    append_twelve(&b).await;
    let conn = cw_storage::sqlite::connect(&b.cfg).expect("raw open");
    // The file refuses changes through its triggers...
    assert!(
        conn.execute("DELETE FROM audit_events WHERE seq = 6", [])
            .is_err(),
        "delete must be refused"
    );
    assert!(
        conn.execute("UPDATE audit_events SET actor = 'x' WHERE seq = 3", [])
            .is_err(),
        "update must be refused"
    );
    // ...but whoever holds the file can drop them; the chain must still tell.
    conn.execute_batch(
        "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;
         UPDATE audit_events SET doc = json_set(doc, '$.actor', 'mallory') WHERE seq = 3;
         DELETE FROM audit_events WHERE seq = 6;
         UPDATE audit_events SET seq = -9 WHERE seq = 9;
         UPDATE audit_events SET seq = 9 WHERE seq = 10;
         UPDATE audit_events SET seq = 10 WHERE seq = -9;",
    )
    .expect("raw tampering");
    let report = verify_chain(b.stores.records.as_ref(), &b.cfg.audit)
        .await
        .expect("verify");
    assert_eq!(report.faults, EXPECTED);
}

#[tokio::test]
async fn servers_verify_finds_an_edited_a_deleted_and_a_reordered_record() {
    let b = Backend::servers().await;
    append_twelve(&b).await;
    let client = mongodb::Client::with_uri_str(b.cfg.mongo.uri.expose_secret())
        .await
        .expect("raw client");
    let coll = client
        .database(&b.cfg.mongo.database)
        .collection::<mongodb::bson::Document>("audit_events");
    coll.update_one(
        doc! { "_id": 3_i64 },
        doc! { "$set": { "actor": "mallory" } },
    )
    .await
    .expect("edit");
    coll.delete_one(doc! { "_id": 6_i64 })
        .await
        .expect("delete");
    // `_id` cannot be updated: swap by delete and re-insert under the other's id.
    let mut nine = coll
        .find_one(doc! { "_id": 9_i64 })
        .await
        .expect("find")
        .expect("9 exists");
    let mut ten = coll
        .find_one(doc! { "_id": 10_i64 })
        .await
        .expect("find")
        .expect("10 exists");
    coll.delete_many(doc! { "_id": { "$in": [9_i64, 10_i64] } })
        .await
        .expect("delete pair");
    nine.insert("_id", 10_i64);
    ten.insert("_id", 9_i64);
    coll.insert_many([ten, nine]).await.expect("reinsert");
    let report = verify_chain(b.stores.records.as_ref(), &b.cfg.audit)
        .await
        .expect("verify");
    assert_eq!(report.faults, EXPECTED);
    client.shutdown().await;
}

/// Raw access to the stored events, as an insider with the database has it.
mod raw {
    use crate::backends::Backend;
    use cw_core::audit::AuditEvent;
    use cw_storage::Backend as Kind;
    use mongodb::bson::doc;

    async fn audit_collection(
        b: &Backend,
    ) -> (
        mongodb::Client,
        mongodb::Collection<mongodb::bson::Document>,
    ) {
        let client = mongodb::Client::with_uri_str(cw_core::secret::ExposeSecret::expose_secret(
            &b.cfg.mongo.uri,
        ))
        .await
        .expect("raw client");
        let coll = client
            .database(&b.cfg.mongo.database)
            .collection("audit_events");
        (client, coll)
    }

    fn sqlite(b: &Backend) -> rusqlite::Connection {
        let conn = cw_storage::sqlite::connect(&b.cfg).expect("raw open");
        conn.execute_batch(
            "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;",
        )
        .expect("drop triggers");
        conn
    }

    fn mongo_doc(event: &AuditEvent) -> mongodb::bson::Document {
        let mut d = mongodb::bson::to_document(event).expect("as BSON");
        d.remove("seq");
        d.insert("_id", event.seq as i64);
        d
    }

    /// Writes `events` in place of (or in addition to) the stored ones with their seq.
    pub async fn put(b: &Backend, events: &[AuditEvent]) {
        match b.cfg.backend {
            Kind::Embedded => {
                let conn = sqlite(b);
                for e in events {
                    conn.execute(
                        "INSERT OR REPLACE INTO audit_events
                         (seq, actor, action, patient, outcome, at_ns, doc)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        rusqlite::params![
                            e.seq as i64,
                            e.entry.actor,
                            e.entry.action,
                            e.entry.patient.as_ref().map(|p| p.as_str()).unwrap_or(""),
                            e.entry.outcome.as_str(),
                            e.entry.at_ns,
                            serde_json::to_string(e).expect("JSON")
                        ],
                    )
                    .expect("raw write");
                }
            }
            Kind::Servers => {
                let (client, coll) = audit_collection(b).await;
                for e in events {
                    coll.replace_one(doc! { "_id": e.seq as i64 }, mongo_doc(e))
                        .upsert(true)
                        .await
                        .expect("raw write");
                }
                client.shutdown().await;
            }
        }
    }

    /// Deletes every event with `seq > after`.
    pub async fn cut_after(b: &Backend, after: u64) {
        match b.cfg.backend {
            Kind::Embedded => {
                sqlite(b)
                    .execute("DELETE FROM audit_events WHERE seq > ?1", [after as i64])
                    .expect("raw delete");
            }
            Kind::Servers => {
                let (client, coll) = audit_collection(b).await;
                coll.delete_many(doc! { "_id": { "$gt": after as i64 } })
                    .await
                    .expect("raw delete");
                client.shutdown().await;
            }
        }
    }
}

/// `cw-audit-v1` events as the store holds them from before keyed sealing.
fn unkeyed_events(n: u64) -> Vec<AuditEvent> {
    let patient = PatientId::random();
    let mut prev = GENESIS_HASH.to_owned();
    (1..=n)
        .map(|seq| {
            let entry = entry("dr-old", "read", &patient, AuditOutcome::Allowed);
            let hash = chain_hash(&entry, seq, &prev);
            AuditEvent {
                seq,
                entry,
                key_id: None,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

async fn a_chain_re_sealed_without_the_key_fails(b: &Backend) {
    append_twelve(b).await;
    let stored = b.stores.records.audit_events(0, 100).await.expect("read");
    // Everything rewritten from the start with the published, unkeyed algorithm.
    let mut forged = unkeyed_events(12);
    for (f, s) in forged.iter_mut().zip(&stored) {
        f.entry.at_ns = s.entry.at_ns;
    }
    raw::put(b, &forged).await;
    let report = verify_chain(b.stores.records.as_ref(), &b.cfg.audit)
        .await
        .expect("verify");
    assert!(
        report.faults.contains(&ChainFault::Rewritten { seq: 12 }),
        "{:?}",
        report.faults
    );
}

async fn cutting_off_the_newest_events_behind_a_checkpoint_fails(b: &Backend) {
    append_twelve(b).await;
    raw::cut_after(b, 9).await;
    let report = verify_chain(b.stores.records.as_ref(), &b.cfg.audit)
        .await
        .expect("verify");
    assert_eq!(
        report.faults,
        vec![ChainFault::Truncated {
            checkpoint_seq: 12,
            head_seq: 9
        }]
    );
}

async fn an_unkeyed_chain_from_before_keys_verifies_and_keyed_events_continue_it(b: &Backend) {
    let old = unkeyed_events(3);
    raw::put(b, &old).await;
    let patient = PatientId::random();
    let next = b
        .stores
        .records
        .append_audit(&entry("dr-new", "read", &patient, AuditOutcome::Allowed))
        .await
        .expect("append");
    assert_eq!(
        (next.seq, next.prev_hash.as_str()),
        (4, old[2].hash.as_str())
    );
    assert_eq!(next.key_id.as_deref(), Some("conformance"));
    let report = verify_chain(b.stores.records.as_ref(), &b.cfg.audit)
        .await
        .expect("verify");
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    assert_eq!(report.events, 4);
}

#[tokio::test]
async fn embedded_a_chain_re_sealed_without_the_key_fails_verification() {
    a_chain_re_sealed_without_the_key_fails(&Backend::embedded().await).await;
}

#[tokio::test]
async fn servers_a_chain_re_sealed_without_the_key_fails_verification() {
    a_chain_re_sealed_without_the_key_fails(&Backend::servers().await).await;
}

#[tokio::test]
async fn embedded_cutting_off_the_newest_events_behind_a_checkpoint_fails_verification() {
    cutting_off_the_newest_events_behind_a_checkpoint_fails(&Backend::embedded().await).await;
}

#[tokio::test]
async fn servers_cutting_off_the_newest_events_behind_a_checkpoint_fails_verification() {
    cutting_off_the_newest_events_behind_a_checkpoint_fails(&Backend::servers().await).await;
}

#[tokio::test]
async fn embedded_an_unkeyed_chain_from_before_keys_still_verifies() {
    an_unkeyed_chain_from_before_keys_verifies_and_keyed_events_continue_it(
        &Backend::embedded().await,
    )
    .await;
}

#[tokio::test]
async fn servers_an_unkeyed_chain_from_before_keys_still_verifies() {
    an_unkeyed_chain_from_before_keys_verifies_and_keyed_events_continue_it(
        &Backend::servers().await,
    )
    .await;
}

#[tokio::test]
async fn without_an_audit_key_appends_are_refused_and_services_do_not_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = cw_storage::StorageConfig {
        path: dir.path().join("store.sqlite"),
        key_hex: crate::backends::store_key(),
        ..cw_storage::StorageConfig::default()
    };
    assert!(cfg.audit.require_key().is_err());
    let stores = cw_storage::open(&cfg).await.expect("open");
    let patient = PatientId::random();
    let refused = stores
        .records
        .append_audit(&entry("dr-1", "read", &patient, AuditOutcome::Allowed))
        .await;
    assert!(refused.is_err(), "an unkeyed event would be forgeable");
}
