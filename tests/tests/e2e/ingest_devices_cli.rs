//! `cardiowatch device add|list|revoke` against the configured storage (an embedded
//! file named by CW_STORAGE__PATH, as an operator would set it), and ingest honouring
//! the result: the printed token streams, and after `revoke` it is refused.

use cw_e2e::ingest;
use cw_e2e::processes::bin_dir;
use std::process::Command;

fn run_cardiowatch(store: &cw_storage::StorageConfig, args: &[&str]) -> std::process::Output {
    let bin = bin_dir().join("cardiowatch");
    assert!(
        bin.exists(),
        "{} is missing: build the binaries first (scripts/test does)",
        bin.display()
    );
    Command::new(bin)
        .args(args)
        .envs(cw_e2e::env::embedded_store_env(store))
        .output()
        .expect("cardiowatch runs")
}

fn cardiowatch(store: &cw_storage::StorageConfig, args: &[&str]) -> String {
    let out = run_cardiowatch(store, args);
    assert!(
        out.status.success(),
        "cardiowatch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_device_added_by_the_cli_streams_and_after_revoke_is_refused() {
    let ingest = ingest::start(None, |_| {}).await;
    let store = ingest.storage.clone();
    // A patient to attach the new device to (registered with its own gateway gw-1).
    let (patient, _) = ingest.device(1).await;

    let added = cardiowatch(
        &store,
        &[
            "device",
            "add",
            "--id",
            "cli-gw",
            "--patient",
            patient.as_str(),
        ],
    );
    let token = added.lines().last().expect("token line").trim().to_owned();
    assert_eq!(token.len(), 64, "a 256-bit hex token: {added}");

    let cert = cw_tls::make_client_cert(&ingest.dir.path().join("c"), "cli-cert").expect("cert");
    let cert_path = cert.cert.to_string_lossy().into_owned();
    let by_cert = cardiowatch(
        &store,
        &[
            "device",
            "add",
            "--id",
            "cli-cert-gw",
            "--patient",
            patient.as_str(),
            "--cert",
            &cert_path,
        ],
    );
    assert!(by_cert.contains("certificate sha256"), "{by_cert}");

    let listed = cardiowatch(&store, &["device", "list"]);
    assert!(listed.contains("cli-gw"), "{listed}");
    let on_patient = ingest
        .stores
        .records
        .patient(&patient)
        .await
        .expect("patient")
        .devices;
    assert!(
        on_patient.iter().any(|d| d.as_str() == "cli-gw"),
        "the patient lists the device the CLI added: {on_patient:?}"
    );
    assert!(listed.contains("cli-cert-gw"), "{listed}");
    assert!(!listed.contains(&token), "list never prints tokens");

    ingest.open(&token).await.expect("the printed token works");
    ingest
        .open_with_cert("", &cert)
        .await
        .expect("the registered certificate works");

    cardiowatch(&store, &["device", "revoke", "--id", "cli-gw"]);
    cardiowatch(&store, &["device", "revoke", "--id", "cli-cert-gw"]);
    let listed = cardiowatch(&store, &["device", "list"]);
    assert!(
        listed
            .lines()
            .filter(|l| l.starts_with("cli-"))
            .all(|l| l.ends_with("revoked")),
        "{listed}"
    );
    let refused = ingest
        .open(&token)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(refused.contains("401"), "{refused}");
    assert!(ingest.open_with_cert("", &cert).await.is_err());
}

#[tokio::test]
async fn the_cli_refuses_a_device_for_an_unknown_patient_and_stores_nothing() {
    let ingest = ingest::start(None, |_| {}).await;
    let store = ingest.storage.clone();
    let out = run_cardiowatch(
        &store,
        &[
            "device",
            "add",
            "--id",
            "orphan-gw",
            "--patient",
            "nobody-here",
        ],
    );
    assert!(!out.status.success(), "refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no patient nobody-here"), "{stderr}");
    let listed = cardiowatch(&store, &["device", "list"]);
    assert!(!listed.contains("orphan-gw"), "{listed}");
}
