//! PatientStore and DeviceStore behaviours.

use crate::fixtures::{device, doctor, patient};
use cw_core::{DeviceId, PatientId, UserId};
use cw_storage::{StoreError, Stores};

pub async fn device_by_token_hash_finds_the_device(s: &Stores) {
    let owner = patient(&[]);
    let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let d = device(&owner.id, hash);
    s.records.put_device(&d).await.expect("put");
    s.records
        .put_device(&device(&owner.id, &"0".repeat(64)))
        .await
        .expect("put another");
    assert_eq!(
        s.records.device_by_token_hash(hash).await.expect("by hash"),
        d
    );
    assert_eq!(s.records.device(&d.id).await.expect("by id"), d);
    assert!(matches!(
        s.records.device_by_token_hash(&"f".repeat(64)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.records.device(&DeviceId::random()).await,
        Err(StoreError::NotFound)
    ));

    // Revoking (a re-put) is what the next lookup sees.
    let revoked = cw_core::Device { revoked: true, ..d };
    s.records.put_device(&revoked).await.expect("revoke");
    assert_eq!(
        s.records.device_by_token_hash(hash).await.expect("by hash"),
        revoked
    );
}

pub async fn device_by_cert_sha256_finds_the_device_and_list_devices_lists_all(s: &Stores) {
    let owner = patient(&[]);
    let cert = "ab".repeat(32);
    let with_cert = cw_core::Device {
        cert_sha256: Some(cert.clone()),
        ..device(&owner.id, &"1".repeat(64))
    };
    let token_only = device(&owner.id, &"2".repeat(64));
    s.records.put_device(&with_cert).await.expect("put");
    s.records
        .put_device(&token_only)
        .await
        .expect("put another");
    assert_eq!(
        s.records
            .device_by_cert_sha256(&cert)
            .await
            .expect("by cert"),
        with_cert
    );
    assert!(matches!(
        s.records.device_by_cert_sha256(&"cd".repeat(32)).await,
        Err(StoreError::NotFound)
    ));
    let listed = s.records.list_devices().await.expect("list");
    for d in [&with_cert, &token_only] {
        assert!(listed.contains(d), "{} listed", d.id);
    }
    let ids: Vec<_> = listed.iter().map(|d| d.id.clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "listed by id");
}

pub async fn patients_of_lists_the_doctors_patients(s: &Stores) {
    let (dr_a, dr_b) = (doctor(), doctor());
    let mut both = patient(&[&dr_a.id, &dr_b.id]);
    let only_a = patient(&[&dr_a.id]);
    let only_b = patient(&[&dr_b.id]);
    for p in [&both, &only_a, &only_b] {
        s.records.put_patient(p).await.expect("put");
    }
    let mut expected = vec![both.clone(), only_a.clone()];
    expected.sort_by(|x, y| x.id.cmp(&y.id));
    let mut listed = s.records.patients_of(&dr_a.id).await.expect("list");
    listed.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(listed, expected);

    // Unassigning a doctor takes the patient off their list.
    both.doctors = vec![dr_b.id.clone()];
    s.records.put_patient(&both).await.expect("reassign");
    assert_eq!(
        s.records.patients_of(&dr_a.id).await.expect("list"),
        vec![only_a]
    );
    assert_eq!(s.records.patient(&both.id).await.expect("get"), both);
    assert!(
        s.records
            .patients_of(&UserId::random())
            .await
            .expect("list")
            .is_empty()
    );
    assert!(matches!(
        s.records.patient(&PatientId::random()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn users_round_trip_and_unknown_ones_are_not_found(s: &Stores) {
    let mut u = doctor();
    s.records.put_user(&u).await.expect("put");
    assert_eq!(s.records.user(&u.id).await.expect("get"), u);
    u.phone = None;
    s.records.put_user(&u).await.expect("update");
    assert_eq!(s.records.user(&u.id).await.expect("get"), u);
    assert!(matches!(
        s.records.user(&UserId::random()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn a_disabled_user_reads_back_disabled_and_enabling_clears_it(s: &Stores) {
    let mut u = doctor();
    s.records.put_user(&u).await.expect("put");
    assert!(!s.records.user(&u.id).await.expect("get").is_disabled());
    u.disabled = Some(cw_core::patient::Disabled {
        since_ns: 1_700_000_000_000_000_000,
        by: "admin-1".into(),
    });
    s.records.put_user(&u).await.expect("disable");
    let read = s.records.user(&u.id).await.expect("get");
    assert!(read.is_disabled());
    assert_eq!(read, u);
    u.disabled = None;
    s.records.put_user(&u).await.expect("enable");
    assert!(!s.records.user(&u.id).await.expect("get").is_disabled());
}

pub async fn users_lists_every_user_record_by_id(s: &Stores) {
    assert!(s.records.users().await.expect("empty list").is_empty());
    let mut all = vec![doctor(), doctor(), doctor()];
    for u in &all {
        s.records.put_user(u).await.expect("put");
    }
    // A re-put replaces, never duplicates.
    all[1].email = None;
    s.records.put_user(&all[1]).await.expect("update");
    all.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    assert_eq!(s.records.users().await.expect("list"), all);
}
