//! Registering a device: the device and its place on the patient's list are one change.

use crate::fixtures::{device, doctor, patient, patient_id};
use cw_storage::{StoreError, Stores};

pub async fn a_registered_device_is_stored_and_listed_on_its_patient_once(s: &Stores) {
    let dr = doctor();
    let p = cw_core::Patient {
        devices: vec![],
        ..patient(&[&dr.id])
    };
    s.records.put_patient(&p).await.expect("patient");
    let d = device(&p.id, &"a".repeat(64));
    s.records.register_device(&d).await.expect("register");
    s.records
        .register_device(&d)
        .await
        .expect("again: idempotent");
    assert_eq!(s.records.device(&d.id).await.expect("device"), d);
    let listed = s.records.patient(&p.id).await.expect("patient").devices;
    assert_eq!(listed, vec![d.id.clone()]);
}

pub async fn registering_for_an_unknown_patient_stores_nothing(s: &Stores) {
    let d = device(&patient_id(), &"b".repeat(64));
    assert!(matches!(
        s.records.register_device(&d).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.records.device(&d.id).await,
        Err(StoreError::NotFound)
    ));
}
