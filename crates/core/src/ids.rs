//! Opaque, URL-safe identifiers. A `PatientId` carries no PHI: it is what appears in
//! InfluxDB tags and on the bus.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(String);

        impl $name {
            /// A fresh random id (a lower-case ULID: sortable by creation time).
            pub fn random() -> Self {
                Self(ulid::Ulid::new().to_string().to_ascii_lowercase())
            }

            /// Wraps an id received from outside after checking it is URL-safe.
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                let ok = !raw.is_empty()
                    && raw.len() <= 64
                    && raw
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if ok { Ok(Self(raw.to_owned())) } else { Err(InvalidId) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// An id that is empty, longer than 64 bytes, or has characters outside `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ids are 1-64 characters of [A-Za-z0-9_-]")]
pub struct InvalidId;

opaque_id!(
    /// A monitored patient.
    PatientId
);
/// The prefix of the notifier watchdog's synthetic patients (`cw-watchdog-{identity}`).
/// Ids the api makes are random and never start with it (docs/architecture.md, watchdog).
pub const SYNTHETIC_PATIENT_PREFIX: &str = "cw-watchdog-";

impl PatientId {
    /// A watchdog's synthetic patient: kept out of every clinical view and figure.
    pub fn is_synthetic(&self) -> bool {
        self.as_str().starts_with(SYNTHETIC_PATIENT_PREFIX)
    }
}

opaque_id!(
    /// An ECG gateway (phone or bedside hub).
    DeviceId
);
opaque_id!(
    /// A doctor, admin or ops user.
    UserId
);
opaque_id!(
    /// One alert episode.
    AlertId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_url_safe_and_parse_back() {
        let id = PatientId::random();
        assert_eq!(PatientId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn ids_with_unsafe_characters_are_rejected() {
        assert_eq!(PatientId::parse("a/b"), Err(InvalidId));
        assert_eq!(PatientId::parse(""), Err(InvalidId));
        assert_eq!(PatientId::parse("x'; drop"), Err(InvalidId));
    }

    #[test]
    fn only_watchdog_patients_are_synthetic() {
        let synthetic = format!("{SYNTHETIC_PATIENT_PREFIX}pod-0");
        assert!(PatientId::parse(&synthetic).expect("id").is_synthetic());
        assert!(!PatientId::random().is_synthetic());
        assert!(!PatientId::parse("cw-watchdog").expect("id").is_synthetic());
        assert!(
            !PatientId::parse("demo-patient-100")
                .expect("id")
                .is_synthetic()
        );
    }
}
