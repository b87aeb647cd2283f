//! API fuzzing: schemathesis (PyPI) generates requests from `/openapi.json` for every
//! operation and checks the answers: no 5xx, and responses conform to the document.

use cw_core::Role;
use cw_e2e::api::ApiHarness;
use cw_e2e::env::required;
use cw_e2e::system::Mode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_or_schema_violation() {
    let st = required("CW_TEST_SCHEMATHESIS");
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.admin, Role::Admin);
    let ca = h.dir.path().join("certs").join("ca.pem");
    let out = tokio::process::Command::new(&st)
        .arg("run")
        .arg(h.url("/openapi.json"))
        .arg(format!("--base-url={}", h.base))
        .arg(format!("--request-tls-verify={}", ca.display()))
        .arg("--experimental=openapi-3.1")
        .args(["--checks", "not_a_server_error"])
        .args(["--checks", "response_schema_conformance"])
        .args(["--checks", "content_type_conformance"])
        .arg("--hypothesis-max-examples=25")
        .arg("--hypothesis-derandomize")
        .arg("--no-color")
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .output()
        .await
        .expect("schemathesis runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis failed:\n{report}");
    // Its summary (operations, checks run, failures) for whoever runs this with
    // --nocapture: the figures docs/security.md quotes.
    println!("{report}");
}
