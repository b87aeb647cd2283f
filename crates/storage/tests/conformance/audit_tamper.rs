//! `verify_chain` (what `cardiowatch audit verify` runs) finds an edited, a deleted and a
//! reordered record that someone with raw database access tampered with — in the
//! embedded file and in MongoDB.

use crate::audit::entry;
use crate::backends::Backend;
use cw_core::PatientId;
use cw_core::audit::{AuditOutcome, ChainFault};
use cw_storage::audit::verify_chain;
use mongodb::bson::doc;

async fn append_twelve(b: &Backend) {
    let patient = PatientId::random();
    for i in 0..12 {
        let e = entry(&format!("dr-{i}"), "read", &patient, AuditOutcome::Allowed);
        b.stores.records.append_audit(&e).await.expect("append");
    }
    let report = verify_chain(b.stores.records.as_ref())
        .await
        .expect("verify");
    assert!(report.faults.is_empty(), "{:?}", report.faults);
}

/// Edit 3, delete 6, swap 9 and 10.
const EXPECTED: [ChainFault; 4] = [
    ChainFault::Edited { seq: 3 },
    ChainFault::Deleted { before_seq: 7 },
    ChainFault::Reordered { seq: 9 },
    ChainFault::Reordered { seq: 10 },
];

#[tokio::test]
async fn embedded_verify_finds_an_edited_a_deleted_and_a_reordered_record() {
    let b = Backend::embedded().await;
    append_twelve(&b).await;
    let conn = rusqlite::Connection::open(&b.cfg.path).expect("raw open");
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
    let report = verify_chain(b.stores.records.as_ref())
        .await
        .expect("verify");
    assert_eq!(report.faults, EXPECTED);
}

#[tokio::test]
async fn servers_verify_finds_an_edited_a_deleted_and_a_reordered_record() {
    let b = Backend::servers().await;
    append_twelve(&b).await;
    let client = mongodb::Client::with_uri_str(&b.cfg.mongo.uri)
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
    let report = verify_chain(b.stores.records.as_ref())
        .await
        .expect("verify");
    assert_eq!(report.faults, EXPECTED);
    client.shutdown().await;
}
