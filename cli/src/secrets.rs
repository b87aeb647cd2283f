//! Local secrets for development runs: generated once into the data dir (mode 0600) and
//! reused, so restarting the demo keeps its bus key and signing key.

use anyhow::Context;
use rand::RngCore;
use std::path::Path;

/// Reads `path`, or writes 32 random bytes as hex there first.
pub fn local_secret(path: &Path) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_owned();
        if existing.len() == 64 {
            return Ok(existing);
        }
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    std::fs::write(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    Ok(secret)
}

/// Audit settings for a development run in `dir`: a local key file and a checkpoint
/// file beside the store. Production keeps both off the store's disk
/// (`docs/security.md`, "Audit trail").
pub fn local_audit(dir: &Path) -> anyhow::Result<cw_storage::AuditConfig> {
    let key_file = dir.join("audit.key");
    local_secret(&key_file)?;
    Ok(cw_storage::AuditConfig {
        key_id: "local-1".into(),
        key_file: Some(key_file),
        checkpoint_file: Some(dir.join("audit-checkpoints.jsonl")),
        ..cw_storage::AuditConfig::default()
    })
}

/// A random device token (256 bits, hex).
pub fn device_token() -> String {
    random_secret()
}

/// 256 random bits, hex: a token or key that exists for one run only.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
