//! Beat marks for an ECG strip (the console's alert detail, docs/console.md): the same
//! detector and classifier the engine runs (`cw_detect::classify_all`), over the stored
//! frames of a range. Pure: the caller reads the frames.

use crate::backtest::infer_rate;
use cw_core::time::Nanos;
use serde::Serialize;

/// One detected beat: its sample time and AAMI class (N, S, V, F or Q).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BeatMark {
    pub at_ns: Nanos,
    /// One letter: N, S, V, F or Q.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[NSVFQ]$"))]
    pub class: char,
}

/// Beats of `frames` (time order, one value per lead) at or after `from_ns`. Frames before
/// `from_ns` are a pre-roll: the detector learns its thresholds on them, so the first
/// beats of the range are found like any other.
pub fn beat_marks(frames: &[(Nanos, Vec<i16>)], from_ns: Nanos) -> Vec<BeatMark> {
    let rate_hz = infer_rate(frames);
    let leads = frames.first().map_or(0, |f| f.1.len());
    if rate_hz == 0 || leads == 0 {
        return Vec::new();
    }
    // A frame with another lead count (a gateway change) is left out of the detection.
    let kept: Vec<&(Nanos, Vec<i16>)> = frames.iter().filter(|f| f.1.len() == leads).collect();
    let interleaved: Vec<i16> = kept.iter().flat_map(|f| f.1.iter().copied()).collect();
    cw_detect::classify_all(f64::from(rate_hz), leads, &interleaved)
        .into_iter()
        // The beat's sample index is a position in `kept`: its time is that frame's own.
        .filter_map(|beat| {
            let frame = kept.get(usize::try_from(beat.sample).ok()?)?;
            (frame.0 >= from_ns).then(|| BeatMark {
                at_ns: frame.0,
                class: beat.class.code(),
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cw_core::time::NANOS_PER_SEC;

    /// A 250 Hz single-lead trace with a narrow 1.5 mV spike every `rr_s` (also the
    /// heart-rate trend's test signal, `hr_trend.rs`).
    pub(crate) fn spikes(seconds: f64, rr_s: f64, t0: Nanos) -> Vec<(Nanos, Vec<i16>)> {
        let rate = 250.0;
        (0..(seconds * rate) as usize)
            .map(|i| {
                let t = i as f64 / rate;
                let phase = t % rr_s;
                let v = if phase < 0.02 {
                    1500.0 * (1.0 - phase / 0.02)
                } else {
                    0.0
                };
                (t0 + (t * NANOS_PER_SEC as f64) as Nanos, vec![v as i16])
            })
            .collect()
    }

    #[test]
    fn beats_are_marked_at_the_spikes_after_the_pre_roll() {
        let t0 = 1_000 * NANOS_PER_SEC;
        let frames = spikes(30.0, 0.8, t0);
        let from = t0 + 10 * NANOS_PER_SEC;
        let marks = beat_marks(&frames, from);
        assert!(marks.iter().all(|m| m.at_ns >= from));
        // 20 s at 0.8 s: 25 beats, each within 60 ms of a spike.
        assert!((23..=26).contains(&marks.len()), "{}", marks.len());
        for m in &marks {
            let phase = ((m.at_ns - t0) as f64 / NANOS_PER_SEC as f64) % 0.8;
            assert!(!(0.06..=0.74).contains(&phase), "{m:?} at phase {phase}");
        }
    }

    #[test]
    fn no_frames_no_beats() {
        assert!(beat_marks(&[], 0).is_empty());
    }
}
