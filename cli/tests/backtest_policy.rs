//! `cardiowatch backtest --policy FILE` reads the file exactly as the api reads a
//! `PUT /v1/patients/{id}/thresholds` body (`cw_core::policy_input`): an unknown or
//! misspelt rule is refused with its name, never silently ignored.

use std::path::Path;
use std::process::Command;

fn backtest(policy_json: &str) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, policy_json).expect("policy written");
    let record = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100");
    Command::new(env!("CARGO_BIN_EXE_cardiowatch"))
        .arg("backtest")
        .args(["--patient", "p-1", "--policy"])
        .arg(&policy)
        .arg("--record")
        .arg(&record)
        .output()
        .expect("cardiowatch runs")
}

#[test]
fn an_unknown_or_misspelt_rule_in_the_policy_file_is_refused_by_name() {
    for (body, field) in [
        (r#"{"vtach": {}}"#, "vtach"),
        (r#"{"hr_hihg": null}"#, "hr_hihg"),
        (r#"{"bigemini": {}}"#, "bigemini"),
    ] {
        let out = backtest(body);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{body} accepted: {stderr}");
        assert!(
            stderr.contains(&format!("unknown field `{field}`")),
            "{body}: {stderr}"
        );
    }
}

#[test]
fn an_implausible_setting_is_refused_and_a_valid_policy_replays() {
    let out = backtest(r#"{"hr_high": {"bpm": 900, "priority": "high"}}"#);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("hr_high.bpm"),
        "{stderr}"
    );
    let out = backtest(r#"{"pvc_per_minute": {"limit": 0}}"#);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("pvc_per_minute.limit"),
        "{stderr}"
    );
    let out = backtest(
        r#"{"hr_high": {"bpm": 120, "priority": "high"}, "noise": null, "couplet": {}, "nsvt": {}}"#,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert!(report["frames"].as_u64().is_some_and(|n| n > 0), "{report}");
}
