//! Builders for the values the behaviours store.

use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{
    Alert, AlertId, Channel, Delivery, DeliveryStatus, Device, DeviceId, HrLimit, Patient,
    PatientId, Priority, Role, RuleKind, SampleBlock, ThresholdPolicy, User, UserId,
};

/// 2026-01-01T00:00:00Z: realistic timestamps, well inside InfluxDB's range.
pub const T0: Nanos = 1_767_225_600 * NANOS_PER_SEC;

pub fn patient_id() -> PatientId {
    PatientId::random()
}

pub fn device_id() -> DeviceId {
    DeviceId::random()
}

/// A block whose sample values encode (seq, frame, lead), with negative values too, so a
/// read-back mix-up shows.
pub fn block(
    patient: &PatientId,
    device: &DeviceId,
    seq: u64,
    start_ns: Nanos,
    rate_hz: u32,
    leads: u8,
    frames: usize,
) -> SampleBlock {
    let samples_uv = (0..frames)
        .flat_map(|f| (0..leads).map(move |l| (f, l)))
        .map(|(f, l)| {
            let v = (seq as i64 * 97 + f as i64 * 7 + i64::from(l) * 1_000) % 30_000;
            (if (f + usize::from(l)) % 2 == 0 { v } else { -v }) as i16
        })
        .collect();
    SampleBlock {
        patient: patient.clone(),
        device: device.clone(),
        seq,
        start_ns,
        rate_hz,
        leads,
        samples_uv,
        lead_off: false,
    }
}

/// Every frame of some blocks, in time order, as the store should return them.
pub fn expected_frames(blocks: &[&SampleBlock], from: Nanos, to: Nanos) -> Vec<(Nanos, Vec<i16>)> {
    let mut out: Vec<(Nanos, Vec<i16>)> = blocks
        .iter()
        .flat_map(|b| (0..b.frames()).map(move |i| (b.time_of(i), b.frame(i).to_vec())))
        .filter(|(t, _)| (from..to).contains(t))
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

pub fn alert(patient: &PatientId, rule: RuleKind, fired_ns: Nanos) -> Alert {
    Alert {
        started_ns: fired_ns - 5 * NANOS_PER_SEC,
        value: 131.5,
        limit: 120.0,
        policy_version: 3,
        window_start_ns: fired_ns - 10 * NANOS_PER_SEC,
        window_end_ns: fired_ns + 10 * NANOS_PER_SEC,
        ..Alert::firing(patient.clone(), rule, Priority::High, fired_ns)
    }
}

pub fn delivery(alert: &AlertId, channel: Channel, recipient: &UserId, attempt: u32) -> Delivery {
    Delivery {
        alert: alert.clone(),
        channel,
        recipient: recipient.clone(),
        attempt,
        status: DeliveryStatus::Queued,
        provider_id: None,
        sent_ns: None,
        error: None,
        updated_ns: T0,
        tries: 0,
        next_try_ns: None,
        version: 0,
    }
}

pub fn policy(patient: &PatientId, high_bpm: f32) -> ThresholdPolicy {
    ThresholdPolicy {
        hr_high: Some(HrLimit {
            bpm: high_bpm,
            priority: Priority::High,
            for_s: 5.0,
            hysteresis_bpm: 5.0,
            clear_s: 10.0,
        }),
        hr_low: None,
        ..ThresholdPolicy::empty(patient.clone())
    }
}

pub fn patient(doctors: &[&UserId]) -> Patient {
    Patient {
        id: patient_id(),
        doctors: doctors.iter().map(|d| (*d).clone()).collect(),
        devices: vec![device_id()],
        timezone: "Europe/Paris".into(),
        phi: None,
        mrn_hash: None,
    }
}

pub fn doctor() -> User {
    User {
        id: UserId::random(),
        role: Role::Doctor,
        phone: Some("+33600000000".into()),
        email: Some("dr@example.org".into()),
        notify: Default::default(),
        disabled: None,
        sessions: Default::default(),
    }
}

pub fn device(patient: &PatientId, token_sha256: &str) -> Device {
    Device {
        id: device_id(),
        patient: patient.clone(),
        token_sha256: token_sha256.into(),
        revoked: false,
        cert_sha256: None,
    }
}
