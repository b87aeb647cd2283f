//! `cardiowatch bench detect`: how fast the beat detector runs on real records, one core.

use anyhow::Context;
use std::path::Path;
use std::time::Instant;

/// Runs the streaming detector over every record in `dir` (each `*.hea`) and prints
/// frames/s and lead-samples/s on this thread, and the detector's state per patient.
pub fn detect(dir: &Path, rounds: u32) -> anyhow::Result<()> {
    let mut records = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "hea") {
            let record = cw_wfdb::Record::open(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            records.push((
                record.fs,
                record.signal_count(),
                record.microvolts_interleaved(),
            ));
        }
    }
    anyhow::ensure!(
        !records.is_empty(),
        "no WFDB records (*.hea) in {}",
        dir.display()
    );
    let frames: usize = records.iter().map(|(_, leads, s)| s.len() / leads).sum();
    let lead_samples: usize = records.iter().map(|(_, _, s)| s.len()).sum();
    let mut beats = 0usize;
    let started = Instant::now();
    for _ in 0..rounds.max(1) {
        for (fs, leads, samples) in &records {
            beats += cw_detect::detect_all(*fs, *leads, samples).len();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let rounds = f64::from(rounds.max(1));
    let (fs, leads, _) = &records[0];
    let detector = cw_detect::QrsDetector::new(*fs, *leads);
    let state = detector.state_bytes();
    let lookahead_ms = detector.lookahead_samples() as f64 * 1000.0 / fs;
    println!(
        "records={} frames={} lead_samples={} rounds={rounds} beats={beats}",
        records.len(),
        frames,
        lead_samples
    );
    println!(
        "detect_frames_per_s={:.0}",
        frames as f64 * rounds / seconds
    );
    println!(
        "detect_lead_samples_per_s={:.0}",
        lead_samples as f64 * rounds / seconds
    );
    println!("detector_state_bytes={state} (at {fs} Hz, {leads} leads)");
    // Worst case: a small beat kept by the search-back; beats above threshold take 300 ms.
    println!("detector_lookahead_ms={lookahead_ms:.0} (worst case, at {fs} Hz)");
    Ok(())
}
