//! PolicyStore behaviours: versioned threshold policies.

use crate::fixtures::{patient_id, policy};
use cw_storage::{StoreError, Stores};

pub async fn put_policy_increments_version(s: &Stores) {
    let p = patient_id();
    let v1 = s.records.put_policy(&policy(&p, 120.0)).await.expect("put");
    assert_eq!(v1.version, 1);
    // Whatever version the caller sent, the store assigns the next one.
    let mut edited = policy(&p, 130.0);
    edited.version = 77;
    let v2 = s.records.put_policy(&edited).await.expect("put");
    assert_eq!(v2.version, 2);
    assert_eq!(v2.hr_high.as_ref().map(|l| l.bpm), Some(130.0));
    assert_eq!(s.records.policy(&p).await.expect("current"), v2);
}

pub async fn policy_of_unknown_patient_is_not_found(s: &Stores) {
    assert!(matches!(
        s.records.policy(&patient_id()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn all_policies_returns_the_current_version_of_each_patient(s: &Stores) {
    let (p1, p2) = (patient_id(), patient_id());
    s.records
        .put_policy(&policy(&p1, 120.0))
        .await
        .expect("put");
    let p1_current = s
        .records
        .put_policy(&policy(&p1, 140.0))
        .await
        .expect("put");
    let p2_current = s
        .records
        .put_policy(&policy(&p2, 110.0))
        .await
        .expect("put");
    let mut all = s.records.all_policies().await.expect("all");
    all.sort_by(|a, b| a.patient.cmp(&b.patient));
    let mut expected = vec![p1_current, p2_current];
    expected.sort_by(|a, b| a.patient.cmp(&b.patient));
    assert_eq!(all, expected);
}
