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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Which of the account's access tokens still hold (logout, role change, disable).
    #[serde(default)]
    pub sessions: Sessions,
}

/// Revocation state of an account's access tokens, checked on every request with the
/// user record the api reads anyway (issue 13 #12). Each of our access tokens names its
/// session (`sid`, the refresh-token family of its login) and the `generation` it was
/// issued in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    /// Raised by a role change and by a disable: every token of an older generation is
    /// void at once.
    #[serde(default)]
    pub generation: u32,
    /// Sessions ended one by one (logout), each kept until the last access token it can
    /// have issued has expired.
    #[serde(default)]
    pub ended: Vec<EndedSession>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedSession {
    pub sid: String,
    pub until_ns: crate::time::Nanos,
}

impl Sessions {
    /// Whether a token of session `sid`, issued in `generation`, still holds.
    pub fn admits(&self, generation: u32, sid: &str) -> bool {
        generation == self.generation && !self.ended.iter().any(|e| e.sid == sid)
    }

    /// Ends every session (a new generation; the one-by-one list is moot).
    pub fn end_all(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.ended.clear();
    }

    /// Ends session `sid` until `until_ns`, forgetting ends that ran out by `now_ns`
    /// (so the list holds at most the logouts of one access-token lifetime).
    pub fn end(&mut self, sid: &str, until_ns: crate::time::Nanos, now_ns: crate::time::Nanos) {
        self.ended.retain(|e| e.until_ns > now_ns && e.sid != sid);
        self.ended.push(EndedSession {
            sid: sid.to_owned(),
            until_ns,
        });
    }
}

/// Who disabled an account, and since when (the reason is in the audit chain).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    fn an_ended_session_or_an_older_generation_is_refused_and_old_ends_are_forgotten() {
        let mut sessions = Sessions::default();
        assert!(sessions.admits(0, "a"));
        sessions.end("a", 100, 0);
        assert!(!sessions.admits(0, "a"));
        assert!(sessions.admits(0, "b"));
        sessions.end("b", 300, 150);
        assert_eq!(sessions.ended.len(), 1, "a's end ran out at 100");
        sessions.end_all();
        assert!(!sessions.admits(0, "c"));
        assert!(sessions.admits(1, "c"));
    }

    #[test]
    fn a_user_stored_before_accounts_could_be_disabled_reads_as_active() {
        let user: User =
            serde_json::from_str(r#"{"id":"dr-1","role":"doctor","phone":null,"email":null}"#)
                .expect("an old user document parses");
        assert!(!user.is_disabled());
    }
}
