//! The MongoDB audit chain under many appenders: within one process appends are grouped
//! into ordered batches; two processes (api replicas) race on `_id = seq` and the loser
//! reseals onto the new head. Either way: one event per seq, and the chain verifies.

use crate::audit::entry;
use crate::backends::audit_key;
use crate::fixtures::patient_id;
use cw_core::audit::AuditOutcome;
use cw_storage::audit::verify_chain;
use cw_storage::audit_sealer::AuditSealer;
use cw_storage::mongo::MongoRecords;
use cw_storage::{AuditStore, MongoConfig};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_with_many_concurrent_appends_keep_one_intact_chain() {
    let uri = std::env::var("CW_TEST_MONGO_URI")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            panic!("CW_TEST_MONGO_URI is not set: run these with `scripts/test -p cw-storage`")
        });
    let cfg = MongoConfig {
        uri: uri.into(),
        database: format!("cw_audit_replicas_{}", patient_id()),
        ..Default::default()
    };
    // Two connections with their own appenders, as two api processes would have.
    // Each seals with the same key, as two api processes with one config would.
    let replica = || async {
        let sealer = AuditSealer::from_config(&audit_key()).expect("audit key");
        Arc::new(
            MongoRecords::connect(&cfg)
                .await
                .expect("replica")
                .with_audit(Arc::new(sealer)),
        )
    };
    let replicas = [replica().await, replica().await];
    let patient = patient_id();
    let mut tasks = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for i in 0..100 {
            let replica = replica.clone();
            let e = entry(
                &format!("dr-{r}-{i}"),
                "read",
                &patient,
                AuditOutcome::Allowed,
            );
            tasks.push(tokio::spawn(async move { replica.append_audit(&e).await }));
        }
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.expect("task").expect("append").seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>(), "one event per seq");
    let report = verify_chain(replicas[0].as_ref(), &audit_key())
        .await
        .expect("verify");
    assert_eq!(report.events, 200);
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    for replica in replicas {
        if let Ok(r) = Arc::try_unwrap(replica) {
            r.shutdown().await;
        }
    }
}
