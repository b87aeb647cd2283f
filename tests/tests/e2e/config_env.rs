//! A `CW_*` variable that names no key of the service would be ignored silently (the
//! top level cannot refuse unknown keys: other tools' variables land there). It is a
//! start-up warning naming it (docs/config.md).

use cw_e2e::processes::bin_dir;
use std::process::Command;

#[test]
fn a_misspelt_cw_variable_is_a_start_up_warning_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(bin_dir().join("cw-ingest"))
        .env("RUST_LOG", "info")
        .env_remove("CW_CONFIG")
        // `listen`, misspelt; and the real key beside it.
        .env("CW_LISTN", "127.0.0.1:0")
        .env("CW_LISTEN", "127.0.0.1:0")
        .env("CW_STORAGE__PATH", dir.path().join("store.sqlite"))
        // No audit key: ingest stops right after start-up, which is all this needs.
        .env_remove("CW_STORAGE__AUDIT__KEY_HEX")
        .output()
        .expect("cw-ingest runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("names no config key"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning, for the typo only:\n{stderr}"
    );
    assert!(warnings[0].contains("CW_LISTN"), "{stderr}");
}
