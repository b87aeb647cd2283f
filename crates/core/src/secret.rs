//! Secrets — keys, tokens, passwords, provider credentials — as [`SecretString`] /
//! [`SecretBox`] (the `secrecy` crate): `Debug` prints `[REDACTED]` and the memory is
//! zeroed on drop, so a config or a key ring derives `Debug` and can be logged whole. The
//! value is read only where it is used, through [`ExposeSecret::expose_secret`]
//! (docs/security.md, "Secrets").

pub use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Serializer;

/// `#[serde(serialize_with)]` for a secret that must be written back out as it is: a
/// stored login's password hash, or a config handed to another process as a file.
pub fn serialize<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

/// [`serialize`] for an optional secret.
pub fn serialize_option<S: Serializer>(
    secret: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_some(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

/// [`serialize`] for a list of secrets (older keys kept for rotation).
pub fn serialize_all<S: Serializer>(secrets: &[SecretString], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(secrets.iter().map(|secret| secret.expose_secret()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Config {
        #[serde(serialize_with = "serialize_option")]
        key: Option<SecretString>,
        #[serde(serialize_with = "serialize_all")]
        previous: Vec<SecretString>,
    }

    #[test]
    fn debug_hides_the_value_and_serde_round_trips_it() {
        let cfg: Config =
            serde_json::from_str(r#"{"key": "k-secret", "previous": ["old-secret"]}"#)
                .expect("parse");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
        let written = serde_json::to_string(&cfg).expect("write");
        assert_eq!(written, r#"{"key":"k-secret","previous":["old-secret"]}"#);
    }
}
