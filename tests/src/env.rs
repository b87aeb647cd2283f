//! Addresses of the real servers `scripts/test` started. Missing means the tests were not
//! run through `scripts/test`: fail loudly, never skip.

use cw_core::secret::ExposeSecret;

pub fn required(var: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{var} is not set: run the tests with `scripts/test`, which starts InfluxDB, the MongoDB-protocol server and the provider emulators"
        ),
    }
}

/// A loopback port for a service a test starts.
///
/// Asking the kernel for port 0 hands out a port from the *ephemeral* range — the same
/// range every outgoing connection of every running test draws from, so between our probe
/// and the service's bind another socket can take it ("address in use"). Ports here come
/// from below that range (20000–32767), are never handed out twice by this process, and
/// are probed free before use.
pub fn free_port() -> u16 {
    static NEXT: std::sync::Mutex<u16> = std::sync::Mutex::new(0);
    let mut next = NEXT.lock().unwrap_or_else(|p| p.into_inner());
    if *next == 0 {
        // Spread concurrently running test processes over the range.
        *next = 20_000 + (std::process::id() % 12_000) as u16;
    }
    for _ in 0..12_768 {
        let port = *next;
        *next = if port >= 32_767 { 20_000 } else { port + 1 };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in 20000-32767")
}

/// A unique, valid database name for one test.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", cw_core::AlertId::random())
}

/// The audit settings of a test's stores: a fresh key, and a checkpoint after every
/// event in a file of the test's directory (so a test can cut off events behind one).
pub fn audit_for(dir: &std::path::Path) -> cw_storage::AuditConfig {
    cw_storage::AuditConfig {
        key_id: "test".into(),
        key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
        checkpoint_file: Some(dir.join("audit-checkpoints.jsonl")),
        checkpoint_every_events: 1,
        ..cw_storage::AuditConfig::default()
    }
}

/// The environment that gives a CLI process the same audit key as `audit` (as an
/// operator sets it: `CW_STORAGE__AUDIT__*`).
pub fn audit_key_env(audit: &cw_storage::AuditConfig) -> [(&'static str, String); 2] {
    [
        ("CW_STORAGE__AUDIT__KEY_ID", audit.key_id.clone()),
        (
            "CW_STORAGE__AUDIT__KEY_HEX",
            audit
                .key_hex
                .as_ref()
                .map_or_else(String::new, |key| key.expose_secret().to_owned()),
        ),
    ]
}

/// The environment that points a CLI process at the embedded store of `storage`, with
/// its key (as an operator sets them: `CW_STORAGE__*`).
pub fn embedded_store_env(storage: &cw_storage::StorageConfig) -> [(&'static str, String); 3] {
    [
        ("CW_STORAGE__BACKEND", "embedded".to_owned()),
        ("CW_STORAGE__PATH", storage.path.display().to_string()),
        (
            "CW_STORAGE__KEY_HEX",
            storage
                .key_hex
                .as_ref()
                .map_or_else(String::new, |key| key.expose_secret().to_owned()),
        ),
    ]
}

/// The `[storage]` table's first lines for a config file naming the embedded store of
/// `storage`, with its key (sub-tables such as `[storage.audit]` may follow).
pub fn embedded_store_toml(storage: &cw_storage::StorageConfig) -> String {
    format!(
        "[storage]\nbackend = \"embedded\"\npath = {:?}\nkey_hex = \"{}\"\n",
        storage.path.display().to_string(),
        storage
            .key_hex
            .as_ref()
            .map_or("", |key| key.expose_secret()),
    )
}

/// A whole second a day before this test process started, the same for all its tests:
/// the start of stored fixtures. It must lie inside the stores' raw retention window
/// (90 days by default, docs/operations.md "Data lifecycle"): InfluxDB refuses older
/// points once a service has set the window on the database, and the embedded store
/// sweeps them.
pub fn recent_second() -> i64 {
    static SECOND: std::sync::LazyLock<i64> = std::sync::LazyLock::new(|| {
        cw_core::time::now_ns() / cw_core::time::NANOS_PER_SEC - 86_400
    });
    *SECOND
}
