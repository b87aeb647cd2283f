//! PatientDirectory behaviours, and sealed PHI round-tripping through the patient store.

use crate::fixtures::patient;
use cw_core::phi::SealedPhi;
use cw_storage::{StoreError, Stores};

pub async fn patient_by_mrn_hash_finds_only_that_patient(s: &Stores) {
    let mut a = patient(&[]);
    a.mrn_hash = Some("a".repeat(64));
    a.phi = Some(SealedPhi {
        key_id: "k1".into(),
        wrapped_key: "d3JhcHBlZA==".into(),
        nonce: "bm9uY2U=".into(),
        ciphertext: "Y2lwaGVy".into(),
    });
    let b = patient(&[]);
    for p in [&a, &b] {
        s.records.put_patient(p).await.expect("put");
    }
    assert_eq!(
        s.records
            .patient_by_mrn_hash(&"a".repeat(64))
            .await
            .expect("found"),
        a
    );
    assert!(matches!(
        s.records.patient_by_mrn_hash(&"b".repeat(64)).await,
        Err(StoreError::NotFound)
    ));
    let all = s.records.all_patients().await.expect("all");
    assert_eq!(all.len(), 2);
    assert!(all.contains(&a) && all.contains(&b));
}
