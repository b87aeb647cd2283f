//! `cardiowatch gateway --tokens-file`: many simulated patients, one connection each,
//! each from its own offset into the record, all streamed to ingest over TLS; every
//! patient's points are stored, and staggered patients send different ECG.

use cw_e2e::ingest;
use cw_e2e::processes::bin_dir;
use std::process::Command;

const PATIENTS: u32 = 200;
const SECONDS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_patients_stream_from_staggered_offsets_and_all_is_stored() {
    let ingest = ingest::start(None, |_| {}).await;
    let mut tokens = String::new();
    let mut patients = Vec::new();
    for n in 0..PATIENTS {
        let (patient, token) = ingest.device(n).await;
        tokens.push_str(&token);
        tokens.push('\n');
        patients.push(patient);
    }
    let tokens_file = ingest.dir.path().join("tokens.txt");
    std::fs::write(&tokens_file, tokens).expect("tokens written");

    let bin = bin_dir().join("cardiowatch");
    assert!(
        bin.exists(),
        "{} is missing: build the binaries first",
        bin.display()
    );
    let url = ingest.url.clone();
    let ca = ingest.ca.clone();
    let record = ingest::record_100();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .args(["gateway", "--url", &url, "--speed", "1000", "--seconds"])
            .arg(SECONDS.to_string())
            .arg("--record")
            .arg(record)
            .arg("--ca")
            .arg(ca)
            .arg("--tokens-file")
            .arg(tokens_file)
            .env_remove("CW_DEVICE_TOKEN")
            .output()
    })
    .await
    .expect("task")
    .expect("cardiowatch runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("done: {PATIENTS} patients")),
        "{stderr}"
    );

    let per_patient = SECONDS * 360;
    let mut first_samples = std::collections::BTreeSet::new();
    for patient in &patients {
        let frames = ingest
            .stores
            .samples
            .frames(patient, 0, i64::MAX)
            .await
            .expect("read back");
        assert_eq!(frames.len() as u64, per_patient, "patient {patient}");
        first_samples.insert(
            frames[..36]
                .iter()
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>(),
        );
    }
    assert!(
        first_samples.len() > PATIENTS as usize / 2,
        "patients start at different offsets: only {} distinct openings",
        first_samples.len()
    );
}
