//! `cardiowatch bench engines` runs (a small stream, debug build) and prints its figures:
//! the engines together analyse every block exactly once, find beats, and the summary
//! gives each count's ratio (docs/scaling.md). Bad counts are refused by name.

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cardiowatch"))
        .args(["bench", "engines"])
        .args(args)
        .output()
        .expect("cardiowatch runs")
}

/// The number after `key` (e.g. `"analysed "`) in `line`.
fn number_after(line: &str, key: &str) -> f64 {
    let rest = line
        .split(key)
        .nth(1)
        .unwrap_or_else(|| panic!("no {key:?} in {line:?}"));
    rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key:?} in {line:?}"))
}

#[test]
fn two_engines_split_every_block_between_them_and_the_ratios_are_printed() {
    let out = bench(&[
        "--engines",
        "1,2",
        "--patients",
        "6",
        "--seconds",
        "3",
        "--warmup-s",
        "2",
        "--rounds",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 6 patients × 3 s in 250 ms blocks.
    let blocks = 6.0 * 3.0 * 4.0;
    for n in [1.0, 2.0] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("round 1 engines={n}:")))
            .unwrap_or_else(|| panic!("no run of {n} engines in:\n{stdout}"));
        assert_eq!(number_after(line, "analysed "), blocks, "{line}");
        // A leasing engine opens every block, its own or not.
        assert_eq!(number_after(line, "opened "), blocks * n, "{line}");
        // Record 100 runs at ~75 bpm: about 1.25 beats a patient-second.
        let beats = number_after(line, "beats ");
        assert!((12.0..=30.0).contains(&beats), "{beats} beats: {line}");
        assert!(number_after(line, "per_core=") > 0.0, "{line}");
    }
    let ratios = stdout
        .lines()
        .find(|l| l.starts_with("ratios="))
        .unwrap_or_else(|| panic!("no ratios in:\n{stdout}"));
    assert!(ratios.starts_with("ratios=1:1.00 2:"), "{ratios}");
    assert!(number_after(ratios, " 2:") > 0.0, "{ratios}");
}

#[test]
fn pinned_engines_open_only_their_own_blocks() {
    let out = bench(&[
        "--engines",
        "3",
        "--patients",
        "6",
        "--seconds",
        "2",
        "--warmup-s",
        "3",
        "--rounds",
        "1",
        "--own-topics",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("round 1 engines=3:"))
        .unwrap_or_else(|| panic!("no run in:\n{stdout}"));
    assert_eq!(number_after(line, "opened "), 6.0 * 2.0 * 4.0, "{line}");
    assert_eq!(number_after(line, "analysed "), 6.0 * 2.0 * 4.0, "{line}");
}

#[test]
fn an_engine_count_outside_1_to_64_is_refused() {
    for count in ["0", "65"] {
        let out = bench(&["--engines", count, "--patients", "1", "--seconds", "1"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--engines {count} accepted");
        assert!(
            stderr.contains(&format!("--engines {count}: each count must be 1 to 64")),
            "{stderr}"
        );
    }
}
