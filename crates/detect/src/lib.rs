//! Streaming QRS detection and heart rate. No I/O: the alert engine feeds it frame by frame,
//! `cardiowatch detect` runs [`detect_all`] over a record.
//!
//! The detector follows Pan & Tompkins (1985) and Hamilton & Tompkins (1986): band-pass,
//! slope energy, moving-window integration, adaptive signal/noise thresholds. It differs
//! where streaming and multi-lead use demand: every lead is filtered and normalised by its
//! own QRS level, leads are fused with weights from their own signal-to-noise ratio, and
//! the unbounded search-back is replaced by a fixed confirmation delay plus a threshold that
//! relaxes when a beat is overdue.

mod baseline;
mod biquad;
mod classify;
mod detector;
mod heart_rate;
mod lead;
mod params;
mod quality;

pub use classify::{BeatClass, BeatClassifier, ClassifiedBeat, RuleLevels};
pub use detector::{Beat, QrsDetector};
pub use heart_rate::{HeartRate, HrReading};
pub use quality::{LeadQuality, QualityWindow, SignalQuality};

/// Offline helper: run the streaming detector over an interleaved record (frames of
/// `leads` samples in microvolts) and return the beat sample indices. A trailing partial
/// frame is ignored.
pub fn detect_all(fs_hz: f64, leads: usize, interleaved_uv: &[i16]) -> Vec<u64> {
    let leads = leads.max(1);
    let mut detector = QrsDetector::new(fs_hz, leads);
    let mut beats: Vec<u64> = interleaved_uv
        .chunks_exact(leads)
        .filter_map(|frame| detector.push(frame))
        .map(|b| b.sample)
        .collect();
    beats.extend(detector.finish().map(|b| b.sample));
    beats
}

/// Offline helper: detect and classify every beat of an interleaved record (as
/// [`detect_all`]), in time order.
pub fn classify_all(fs_hz: f64, leads: usize, interleaved_uv: &[i16]) -> Vec<ClassifiedBeat> {
    let leads = leads.max(1);
    let mut detector = QrsDetector::new(fs_hz, leads);
    let mut classifier = BeatClassifier::new(fs_hz, leads);
    let mut out: Vec<ClassifiedBeat> = interleaved_uv
        .chunks_exact(leads)
        .filter_map(|frame| {
            let beat = detector.push(frame);
            classifier.push(frame, beat)
        })
        .collect();
    out.extend(classifier.finish(detector.finish()));
    out
}
