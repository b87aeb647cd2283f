//! A monitored patient with a doctor, a gateway device and a threshold policy — what the
//! demo and the cross-service tests set up before streaming.

use crate::secrets::device_token;
use cw_core::device::token_sha256;
use cw_core::{
    Device, DeviceId, HrLimit, Patient, PatientId, Priority, Role, ThresholdPolicy, User, UserId,
};
use cw_storage::RecordStore;

pub struct Fixture {
    pub doctor: User,
    pub patient: Patient,
    pub device: Device,
    /// The device's bearer token (only its hash is stored).
    pub device_token: String,
    pub policy: ThresholdPolicy,
}

pub struct FixtureSpec<'a> {
    pub patient_id: &'a str,
    pub doctor_id: &'a str,
    pub device_id: &'a str,
    pub phone: Option<&'a str>,
    pub email: Option<&'a str>,
    /// HR high limit (bpm) and its onset delay.
    pub hr_high_bpm: f32,
    pub for_s: f32,
}

/// Writes the fixture to the store (idempotent: re-running replaces it and issues a new
/// device token).
pub async fn install(records: &dyn RecordStore, spec: &FixtureSpec<'_>) -> anyhow::Result<Fixture> {
    let doctor = User {
        id: UserId::parse(spec.doctor_id)?,
        role: Role::Doctor,
        phone: spec.phone.map(str::to_owned),
        email: spec.email.map(str::to_owned),
        notify: Default::default(),
        disabled: None,
        sessions: Default::default(),
    };
    let patient_id = PatientId::parse(spec.patient_id)?;
    let device_id = DeviceId::parse(spec.device_id)?;
    let patient = Patient {
        id: patient_id.clone(),
        doctors: vec![doctor.id.clone()],
        devices: vec![device_id.clone()],
        timezone: "UTC".into(),
        phi: None,
        mrn_hash: None,
    };
    let token = device_token();
    let device = Device {
        id: device_id,
        patient: patient_id.clone(),
        token_sha256: token_sha256(&token),
        revoked: false,
        cert_sha256: None,
    };
    let policy = ThresholdPolicy {
        hr_high: Some(HrLimit {
            bpm: spec.hr_high_bpm,
            priority: Priority::High,
            for_s: spec.for_s,
            hysteresis_bpm: 5.0,
            clear_s: 10.0,
        }),
        ..ThresholdPolicy::empty(patient_id)
    };
    records.put_user(&doctor).await?;
    records.put_patient(&patient).await?;
    records.put_device(&device).await?;
    let policy = records.put_policy(&policy).await?;
    Ok(Fixture {
        doctor,
        patient,
        device,
        device_token: token,
        policy,
    })
}
