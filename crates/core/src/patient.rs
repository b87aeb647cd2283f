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
    /// Set while an admin has disabled the account: every token, login, refresh and
    /// OIDC sign-in of this user is refused. Absent in stored users = active.
    #[serde(default)]
    pub disabled: Option<Disabled>,
}

/// Who disabled an account, and since when (the reason is in the audit chain).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disabled {
    pub since_ns: crate::time::Nanos,
    /// The admin's user id, or `cli` for `cardiowatch user disable`.
    pub by: String,
}

impl User {
    pub fn is_disabled(&self) -> bool {
        self.disabled.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_stored_before_accounts_could_be_disabled_reads_as_active() {
        let user: User =
            serde_json::from_str(r#"{"id":"dr-1","role":"doctor","phone":null,"email":null}"#)
                .expect("an old user document parses");
        assert!(!user.is_disabled());
    }
}
