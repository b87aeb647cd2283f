//! The Prometheus alert rules and Grafana dashboard in `deploy/` (docs/operations.md,
//! "Monitoring"): `promtool check` and `promtool test rules` (Debian's `prometheus`
//! package, installed by `scripts/test`), every alert unit-tested firing and not firing,
//! each alert's tests failing without it, and every metric they read exported by a
//! service.

use cw_e2e::env::required;
use serde_yaml_ng::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn prometheus_dir() -> PathBuf {
    repo().join("deploy/prometheus")
}

/// Runs promtool (`CW_TEST_PROMTOOL`, set by `scripts/test`) in `dir`; its output on failure.
fn promtool(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(required("CW_TEST_PROMTOOL"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running promtool: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Alert names of rules.yml, in file order.
fn alert_names(rules: &Value) -> Vec<String> {
    rules["groups"]
        .as_sequence()
        .expect("rules.yml has groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("a group has rules"))
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect()
}

/// `cw_*` metric names in `text`, without the `_bucket`/`_sum`/`_count` series suffixes
/// of histograms.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("cw_") {
        let preceded_by_word = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if !preceded_by_word {
            let name = &tail[..end];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|_| name.contains("_seconds")))
                .unwrap_or(name);
            names.insert(base.to_owned());
        }
        rest = &tail[end.max(3)..];
    }
    names
}

/// Every `.rs` file under `dir`, recursively.
fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of the services' and runtime's sources, where every exported metric name is
/// written once, as a string literal (`MetricsText` calls, `services/*/src/metrics.rs`)
/// or in the `# HELP` line of a family rendered by hand (`request_metrics.rs`).
fn exporting_sources() -> String {
    let repo = repo();
    let mut files = Vec::new();
    for dir in ["services", "crates/runtime/src"] {
        rust_sources(&repo.join(dir), &mut files);
    }
    // Not the services' own tests, which may name a metric no code exports.
    files
        .iter()
        .filter(|p| {
            !p.strip_prefix(&repo)
                .expect("under the repository")
                .components()
                .any(|c| c.as_os_str() == "tests")
        })
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p:?}: {e}")))
        .collect()
}

fn dashboard_exprs() -> Vec<String> {
    let path = repo().join("deploy/grafana/cardiowatch.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let dash: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let panels = dash["panels"].as_array().expect("the dashboard has panels");
    assert!(!panels.is_empty());
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().expect("a panel has targets"))
        .map(|t| t["expr"].as_str().expect("a target has an expr").to_owned())
        .collect()
}

#[test]
fn rules_and_scrape_config_pass_promtool_check() {
    let dir = prometheus_dir();
    promtool(&dir, &["check", "rules", "rules.yml"]).unwrap_or_else(|e| panic!("{e}"));
    promtool(&dir, &["check", "config", "prometheus.yml"]).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn rule_unit_tests_pass() {
    let out = promtool(&prometheus_dir(), &["test", "rules", "rules_test.yml"])
        .unwrap_or_else(|e| panic!("promtool test rules failed:\n{e}"));
    assert!(out.contains("SUCCESS"), "{out}");
}

/// Every alert has a test where it fires and one where it must not.
#[test]
fn every_alert_is_tested_firing_and_quiet() {
    let dir = prometheus_dir();
    let alerts = alert_names(&yaml(&dir.join("rules.yml")));
    assert!(alerts.len() >= 10, "rules.yml has {} alerts", alerts.len());
    let tests = yaml(&dir.join("rules_test.yml"));
    let cases: Vec<&Value> = tests["tests"]
        .as_sequence()
        .expect("rules_test.yml has tests")
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_sequence().into_iter().flatten())
        .collect();
    for alert in &alerts {
        let of_alert: Vec<_> = cases
            .iter()
            .filter(|c| c["alertname"].as_str() == Some(alert))
            .collect();
        let firing = of_alert
            .iter()
            .filter(|c| c["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty()))
            .count();
        assert!(firing > 0, "{alert}: no test where it fires");
        assert!(
            of_alert.len() > firing,
            "{alert}: no test where it must stay quiet"
        );
    }
}

/// Taking any one alert out of rules.yml fails the unit tests: each alert's tests assert
/// something about that alert.
#[test]
fn unit_tests_fail_without_each_alert() {
    let dir = prometheus_dir();
    let rules = yaml(&dir.join("rules.yml"));
    let tmp = tempfile::tempdir().expect("a temp dir");
    std::fs::copy(
        dir.join("rules_test.yml"),
        tmp.path().join("rules_test.yml"),
    )
    .expect("copying rules_test.yml");
    for alert in alert_names(&rules) {
        let mut without = rules.clone();
        for group in without["groups"].as_sequence_mut().expect("groups") {
            group["rules"]
                .as_sequence_mut()
                .expect("rules")
                .retain(|r| r["alert"].as_str() != Some(&alert));
        }
        std::fs::write(
            tmp.path().join("rules.yml"),
            serde_yaml_ng::to_string(&without).expect("YAML"),
        )
        .expect("writing rules.yml");
        assert!(
            promtool(tmp.path(), &["test", "rules", "rules_test.yml"]).is_err(),
            "the unit tests pass without {alert}"
        );
    }
}

/// The rules and the dashboard read only metrics a service exports.
#[test]
fn rules_and_dashboard_read_exported_metrics() {
    let exported = exporting_sources();
    let rules = std::fs::read_to_string(prometheus_dir().join("rules.yml")).expect("rules.yml");
    let mut used = metric_names(&rules);
    let rules_count = used.len();
    for expr in dashboard_exprs() {
        used.extend(metric_names(&expr));
    }
    assert!(rules_count >= 15 && used.len() > rules_count, "{used:?}");
    let missing: Vec<_> = used
        .iter()
        .filter(|name| {
            !exported.contains(&format!("\"{name}\""))
                && !exported.contains(&format!("HELP {name} "))
        })
        .collect();
    assert!(missing.is_empty(), "no service exports {missing:?}");
}

/// Every dashboard query is valid PromQL: promtool checks them as recording rules.
#[test]
fn dashboard_queries_parse() {
    let exprs = dashboard_exprs();
    let rules: Vec<_> = exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| {
            let mut rule = serde_yaml_ng::Mapping::new();
            rule.insert("record".into(), format!("dashboard:query_{i}").into());
            rule.insert("expr".into(), expr.as_str().into());
            Value::Mapping(rule)
        })
        .collect();
    let mut group = serde_yaml_ng::Mapping::new();
    group.insert("name".into(), "dashboard".into());
    group.insert("rules".into(), Value::Sequence(rules));
    let mut file = serde_yaml_ng::Mapping::new();
    file.insert(
        "groups".into(),
        Value::Sequence(vec![Value::Mapping(group)]),
    );
    let tmp = tempfile::tempdir().expect("a temp dir");
    std::fs::write(
        tmp.path().join("dashboard.yml"),
        serde_yaml_ng::to_string(&Value::Mapping(file)).expect("YAML"),
    )
    .expect("writing dashboard.yml");
    promtool(tmp.path(), &["check", "rules", "dashboard.yml"])
        .unwrap_or_else(|e| panic!("a dashboard query does not parse:\n{e}"));
}

#[test]
fn metric_names_finds_names_and_strips_histogram_suffixes() {
    let names = metric_names(
        "rate(cw_a_total[5m]) / x_cw_not_this + cw_b_seconds_bucket{le=\"1\"} cw_c_count",
    );
    let want: BTreeSet<String> = ["cw_a_total", "cw_b_seconds", "cw_c_count"]
        .map(String::from)
        .into();
    assert_eq!(names, want);
}
