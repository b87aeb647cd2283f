//! The accessibility check of the console's pages (issue 16 item 8; docs/console.md,
//! "Accessibility"): axe-core, installed from npm by `scripts/test` at a pinned version
//! (`CW_TEST_AXE` names its `axe.min.js`), injected into the page under test through
//! WebDriver — the page's CSP allows no script from elsewhere, and it need not: a
//! WebDriver script is the browser's, not the page's.

use crate::webdriver::Browser;
use serde_json::{Value, json};
use std::time::Duration;

/// The serious and critical violations axe finds on the page as it is now, one line
/// each (rule, impact, help, the first offending elements). Runs the WCAG 2.0/2.1 A and
/// AA rules and axe's best practices.
pub async fn serious_violations(browser: &Browser) -> Vec<String> {
    let path = crate::env::required("CW_TEST_AXE");
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading axe-core at {path} (CW_TEST_AXE): {e}"));
    // Loaded once per document: the source defines `window.axe`.
    browser
        .run(
            &format!("if (!window.axe) {{ {source}\n }} return typeof window.axe;"),
            json!([]),
        )
        .await;
    browser
        .run(
            "window.__axeResult = null;
             axe.run(document, {resultTypes: ['violations']})
               .then((r) => { window.__axeResult = r.violations; })
               .catch((e) => { window.__axeResult = [{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]; });
             return true;",
            json!([]),
        )
        .await;
    let violations = browser
        .wait_for(
            "axe-core's result",
            "return window.__axeResult",
            json!([]),
            Duration::from_secs(60),
        )
        .await;
    violations
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(describe)
        .collect()
}

fn describe(v: &Value) -> String {
    let targets: Vec<String> = v["nodes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .take(3)
        .map(|n| {
            format!(
                "{} ({})",
                n["target"],
                n["failureSummary"].as_str().unwrap_or("")
            )
        })
        .collect();
    format!(
        "{} [{}]: {} — {}",
        v["id"].as_str().unwrap_or("?"),
        v["impact"].as_str().unwrap_or("?"),
        v["help"].as_str().unwrap_or(""),
        targets.join("; ")
    )
}
