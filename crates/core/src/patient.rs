//! People: patients and the users (doctors, admins, ops) who look after them.

use crate::{DeviceId, PatientId, UserId};
use serde::{Deserialize, Serialize};

/// A monitored patient. PHI (name, date of birth, MRN, contact) is only ever stored
/// sealed; everything else here is what routing needs and is not PHI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    pub id: PatientId,
    /// Doctors assigned to this patient, in escalation order.
    pub doctors: Vec<UserId>,
    pub devices: Vec<DeviceId>,
    /// IANA time zone, for quiet hours and reports.
    pub timezone: String,
    /// Name, date of birth, MRN and contact, sealed (`cw-phi`); never stored in clear.
    #[serde(default)]
    pub phi: Option<crate::phi::SealedPhi>,
    /// Keyed hash of the MRN, for lookups by MRN without storing it.
    #[serde(default)]
    pub mrn_hash: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Doctor,
    Admin,
    Ops,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub role: Role,
    /// E.164 phone number for SMS and voice.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Channels per priority, quiet hours, snooze (the notifier's routing input).
    #[serde(default)]
    pub notify: crate::delivery::NotifyPreferences,
}
