//! A clinician's verdict on one alarm after reading its strip (issue 16): was it real?
//! Stored on the alert (`Alert.triage`, `POST /v1/alerts/{id}/triage`) and counted per
//! rule by the fatigue report (`crate::fatigue`), so the false-alarm rate of each rule
//! is measured from the people who answered the alarms.

use crate::time::Nanos;
use serde::{Deserialize, Serialize};

/// Longest note kept with a verdict, in characters.
pub const MAX_NOTE_CHARS: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Verdict {
    /// The condition was there: a true alarm.
    Confirmed,
    /// The signal misled the analysis (motion, muscle noise, a loose electrode).
    Artifact,
    /// No condition and no artifact to blame (a wrong limit, a misread rhythm).
    False,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Self::Confirmed, Self::Artifact, Self::False];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Artifact => "artifact",
            Self::False => "false",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == raw)
    }

    /// Artifact and false both mean the alarm should not have sounded.
    pub fn is_false_alarm(self) -> bool {
        !matches!(self, Self::Confirmed)
    }
}

/// The latest verdict on an alert: a later one replaces it (every one is in the audit
/// chain).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Triage {
    pub verdict: Verdict,
    /// Free text from the clinician; may hold clinical detail, so it is never logged.
    pub note: Option<String>,
    pub by: String,
    pub at_ns: Nanos,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_back_from_their_names_and_only_confirmed_is_a_true_alarm() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::parse(v.as_str()), Some(v));
            let json = serde_json::to_value(v).expect("serialises");
            assert_eq!(json, v.as_str());
        }
        assert_eq!(Verdict::parse("maybe"), None);
        assert!(!Verdict::Confirmed.is_false_alarm());
        assert!(Verdict::Artifact.is_false_alarm() && Verdict::False.is_false_alarm());
    }
}
