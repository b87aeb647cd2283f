//! Every store-opening subcommand finds its store by one rule (cli/src/store_args.rs,
//! docs/config.md): `--config FILE` / `CW_CONFIG`, else the embedded store of
//! `--data-dir DIR` / `CW_DATA_DIR` (default `.cw-data`). Here `user set-login` writes a
//! login through `--data-dir`; `user disable` finds that login through `CW_DATA_DIR` (it
//! refuses an unknown user) and audits it; `audit verify` and `device list` find the same
//! store through `CW_DATA_DIR` and through a `--config` file naming it.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cardiowatch");

/// The CLI with no inherited `CW_*` variables, run in `cwd`.
fn cli(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(BIN)
        .env_clear()
        .current_dir(cwd)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The event count `audit verify` prints ("N audit events, head …").
fn audit_events(out: &Output) -> u64 {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            l.split_once(" audit events")
                .map(|(n, _)| n.trim().to_owned())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no event count in:\n{text}"))
}

#[test]
fn set_login_and_audit_verify_and_device_list_open_the_same_store_by_one_rule() {
    let cwd = tempfile::tempdir().expect("cwd");
    let data = tempfile::tempdir().expect("data dir");
    let data_dir = data.path().to_str().expect("utf-8 path");
    cli(
        cwd.path(),
        &[
            "user",
            "set-login",
            "--user",
            "admin-1",
            "--role",
            "admin",
            "--data-dir",
            data_dir,
        ],
        &[("CW_PASSWORD", "a long enough password")],
    );
    assert!(
        data.path().join("cardiowatch.sqlite").exists(),
        "set-login wrote the store in --data-dir"
    );

    cli(
        cwd.path(),
        &["user", "disable", "admin-1", "--reason", "left the team"],
        &[("CW_DATA_DIR", data_dir)],
    );
    let by_env = audit_events(&cli(
        cwd.path(),
        &["audit", "verify"],
        &[("CW_DATA_DIR", data_dir)],
    ));
    assert!(
        by_env >= 1,
        "the disable's audit event is in the same store"
    );
    cli(cwd.path(), &["device", "list", "--data-dir", data_dir], &[]);
    assert!(
        !cwd.path().join(".cw-data").exists(),
        "no subcommand fell back to ./.cw-data when given a data dir"
    );

    // The same store named by a service config file, as a deployment does.
    let config = cwd.path().join("api.toml");
    let store = data.path();
    std::fs::write(
        &config,
        format!(
            "[storage]\nbackend = \"embedded\"\npath = {:?}\nkey_file = {:?}\n[storage.audit]\nkey_id = \"local-1\"\nkey_file = {:?}\ncheckpoint_file = {:?}\n",
            store.join("cardiowatch.sqlite"),
            store.join("store.key"),
            store.join("audit.key"),
            store.join("audit-checkpoints.jsonl"),
        ),
    )
    .expect("config written");
    let config = config.to_str().expect("utf-8 path");
    let by_file = audit_events(&cli(
        cwd.path(),
        &["audit", "verify", "--config", config],
        &[],
    ));
    assert_eq!(by_file, by_env, "--config FILE opens the same store");
    let by_env_file = audit_events(&cli(
        cwd.path(),
        &["audit", "verify"],
        &[("CW_CONFIG", config)],
    ));
    assert_eq!(by_env_file, by_env, "CW_CONFIG is --config");
}
