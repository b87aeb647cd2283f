//! Fast regular ventricular activity that the beat detector under-counts
//! (docs/clinical-performance.md, "VT from the signal's own rhythm").
//!
//! In fast wide-complex VT the QRS detector finds only every second or third complex, or
//! none at all: its integrated feature never returns to baseline between them, which it
//! reads as flutter-like activity and does not report as beats (`cw_detect`,
//! `continuous_activity`). The beat-run VT rule then never sees three fast V beats. This
//! path looks at the signal itself, as the VF path does, and asks three things of the
//! last few seconds:
//! - **a dominant cycle** between 0.24 s and 0.6 s (250 to 100 bpm): the lag of the
//!   highest normalised autocorrelation of the slope signal;
//! - **regularity**: the signal repeats at that cycle and again at twice it (both
//!   correlations high). A QRS correlating with its own T wave one QRS–T interval later
//!   does not repeat at twice that lag; fibrillation and muscle noise repeat at neither;
//! - **under-counting**: the detector itself sees activity it does not report as beats
//!   (its integrated feature does not return to baseline between detections), and it
//!   reported at most `UNDER_COUNTED` of the cycles the signal shows. Where it counts the
//!   beats, the beat path (classes, runs) judges them. The detector's own flag is needed:
//!   on mitdb 101 a small regular ~4 Hz ripple on V1 beside a counted sinus rhythm passed
//!   the other tests (18 false VT alarms without it).
//!
//! While the detector flags flutter (no baseline left between fast complexes: its VF/VFL
//! flag) the same measures tell VT from VF/VFL (docs/clinical-performance.md, "VT or VF
//! when the detector flags flutter"): a cycle searched down to 0.12 s, so a flutter shows
//! as its own cycle, that is regular and no faster than `FLUTTER_VT_MAX_BPM` is VT;
//! anything faster or irregular stays the VF rule's.
//!
//! Bounded state: a 5.2 s ring of the slope signal at about 50 Hz, per lead, for at most
//! `MAX_LEADS` leads (the regularity is taken on the lead that shows the rhythm best).

/// Decimated rate the rhythm is judged at: 20 ms resolution of the cycle is enough for a
/// rate (±5 bpm at 150 bpm), and the boxcar average that decimates is the low-pass.
const RATE_HZ: f64 = 50.0;
/// Samples judged per window (4 s); the ring also holds twice the longest cycle.
const SPAN: usize = 200;
const MAX_LAG: usize = 30;
const RING: usize = SPAN + 2 * MAX_LAG;
/// Shortest VT cycle, 0.24 s (250 bpm): a shorter one is ventricular flutter.
pub const MIN_VT_LAG: usize = 12;
/// Shortest cycle looked for while the detector flags flutter, 0.12 s (500 bpm): a
/// ventricular flutter (about 250–350 bpm) must show as its own cycle, not as twice it.
pub const MIN_FLUTTER_LAG: usize = 6;
/// Leads judged: the first two (a monitor's two analysed leads; vfdb has one).
const MAX_LEADS: usize = 2;
/// The detector found at most this share of the signal's cycles: "every second or third
/// complex" is 1/2 or 1/3; a counted rhythm is near 1.
const UNDER_COUNTED: f64 = 0.6;
/// A lag whose correlation is within this share of the best one and is shorter is the
/// cycle (the best may be twice the cycle).
const SHORTER_CYCLE_SHARE: f32 = 0.9;
/// Windows in a row that must show it: one window can be a transient artefact.
const WINDOWS_IN_A_ROW: u32 = 2;
/// An episode goes on through at most this many windows without it (as the beat path's
/// `EPISODE_GAP_S`).
const EPISODE_GAP_WINDOWS: u32 = 2;
/// Detected beats remembered, enough for a 4 s window at 250 bpm.
const BEATS: usize = 20;

/// Regularity a window needs: the lower of the correlations at the cycle and at twice it.
/// Chosen from 0.3, 0.4, 0.5, 0.6, 0.7 by the criterion stated before the figures: the
/// lowest level that adds no false VT alarm on mitdb, vfdb, cudb and mitdb with muscle
/// noise at 0 dB (docs/clinical-performance.md, "VT from the signal's own rhythm"). Every
/// level adds none (the detector's own flag and the noise gate carry the specificity), so
/// 0.3 in all leave-one-record-out folds.
const REGULARITY: f32 = 0.3;

/// While the detector flags flutter, a window is VT rather than VF/VFL when its cycle is at
/// most this fast and at least `FLUTTER_REGULARITY` regular. Both chosen together by the
/// criterion stated before the figures (docs/clinical-performance.md, "VT or VF when the
/// detector flags flutter"): no flutter-flagged window inside annotated VF/VFL on vfdb,
/// cudb or mitdb called VT, and then the most inside annotated VT. The VF that comes
/// nearest is vfdb 430's, regular at about 158–180 bpm: one 20 ms cycle step above this.
const FLUTTER_VT_MAX_BPM: f32 = 150.0;
const FLUTTER_REGULARITY: f32 = 0.5;

/// What one window found when it showed fast regular under-counted activity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FastActivity {
    /// The rate of the dominant cycle.
    pub bpm: f32,
    /// How long the episode has lasted (from its first qualifying window's start), s.
    pub lasted_s: f64,
}

#[derive(Clone, Debug)]
pub struct FastVentricularActivity {
    /// Input samples per decimated sample, and the decimated rate that gives.
    per_sample: u32,
    rate_hz: f64,
    leads: usize,
    /// The current decimation bucket's sums, and samples in it.
    sums: [i32; MAX_LEADS],
    in_bucket: u32,
    /// The previous decimated value per lead (the slope is the difference).
    previous: [i16; MAX_LEADS],
    ring: [[i16; RING]; MAX_LEADS],
    head: usize,
    filled: usize,
    /// Samples of the last detected beats (ring).
    beats: [u64; BEATS],
    next_beat: usize,
    /// The latest window was flagged as flutter by the detector and is VT by its rhythm.
    vt_in_flutter: bool,
    /// Qualifying windows in a row, windows since the last one, and the episode's start.
    streak: u32,
    missed: u32,
    since: Option<u64>,
    fs: f64,
}

impl FastVentricularActivity {
    pub fn new(fs: f64, leads: usize) -> Self {
        let per_sample = (fs / RATE_HZ).round().max(1.0) as u32;
        Self {
            per_sample,
            rate_hz: fs / f64::from(per_sample),
            leads: leads.clamp(1, MAX_LEADS),
            sums: [0; MAX_LEADS],
            in_bucket: 0,
            previous: [0; MAX_LEADS],
            ring: [[0; RING]; MAX_LEADS],
            head: 0,
            filled: 0,
            beats: [0; BEATS],
            next_beat: 0,
            vt_in_flutter: false,
            streak: 0,
            missed: 0,
            since: None,
            fs,
        }
    }

    /// One frame of the signal (µV per lead).
    pub fn on_frame(&mut self, frame: &[i16]) {
        for (sum, &x) in self.sums.iter_mut().zip(frame).take(self.leads) {
            *sum += i32::from(x);
        }
        self.in_bucket += 1;
        if self.in_bucket < self.per_sample {
            return;
        }
        let n = self.in_bucket as i32;
        for lead in 0..self.leads {
            let mean = (self.sums[lead] / n).clamp(i32::from(i16::MIN), i32::from(i16::MAX));
            let mean = mean as i16;
            // The slope: baseline wander, which would correlate at every lag, drops out.
            self.ring[lead][self.head] = mean.saturating_sub(self.previous[lead]);
            self.previous[lead] = mean;
        }
        self.sums = [0; MAX_LEADS];
        self.in_bucket = 0;
        self.head = (self.head + 1) % RING;
        self.filled = (self.filled + 1).min(RING);
    }

    /// A beat the detector reported.
    pub fn on_beat(&mut self, sample: u64) {
        self.beats[self.next_beat] = sample;
        self.next_beat = (self.next_beat + 1) % BEATS;
    }

    /// A window ending at `end_sample`, judged when the rules may use it (`judged`: the
    /// signal is analysable, learned and not noisy; otherwise any episode is broken);
    /// `unreported` when the detector sees activity it does not report as beats
    /// (`QrsDetector::continuous_activity`), `flutter` when it also flags flutter
    /// (`QrsDetector::flutter`). Returns the activity when the window shows it at
    /// `min_bpm` or faster.
    pub fn on_window(
        &mut self,
        end_sample: u64,
        judged: bool,
        (unreported, flutter): (bool, bool),
        min_bpm: f32,
    ) -> Option<FastActivity> {
        let found = (judged && unreported)
            .then(|| {
                if flutter {
                    self.regular_in_flutter()
                } else {
                    self.dominant_bpm()
                }
            })
            .flatten()
            .filter(|bpm| *bpm >= min_bpm && self.under_counted(end_sample, *bpm));
        self.vt_in_flutter = flutter && found.is_some();
        let Some(bpm) = found else {
            self.streak = 0;
            self.missed += 1;
            if !judged || self.missed > EPISODE_GAP_WINDOWS {
                self.since = None;
            }
            return None;
        };
        self.streak += 1;
        self.missed = 0;
        let span = (SPAN as f64 / self.rate_hz * self.fs) as u64;
        let since = *self.since.get_or_insert(end_sample.saturating_sub(span));
        (self.streak >= WINDOWS_IN_A_ROW).then(|| FastActivity {
            bpm,
            lasted_s: end_sample.saturating_sub(since) as f64 / self.fs,
        })
    }

    /// The latest window was one the detector flagged as flutter whose own rhythm is VT
    /// (a regular cycle no faster than `FLUTTER_VT_MAX_BPM`): not the VF rule's.
    pub fn vt_in_flutter(&self) -> bool {
        self.vt_in_flutter
    }

    /// The detector reported at most `UNDER_COUNTED` of the cycles at `bpm` over the span.
    fn under_counted(&self, end_sample: u64, bpm: f32) -> bool {
        let span_s = SPAN as f64 / self.rate_hz;
        let first = end_sample.saturating_sub((span_s * self.fs) as u64);
        let found = self
            .beats
            .iter()
            .filter(|b| **b > first && **b <= end_sample)
            .count();
        let cycles = span_s * f64::from(bpm) / 60.0;
        (found as f64) <= UNDER_COUNTED * cycles
    }

    /// The rate of the most regular lead's dominant cycle, if one is regular enough.
    fn dominant_bpm(&self) -> Option<f32> {
        self.rhythm(MIN_VT_LAG)
            .filter(|(_, regularity)| *regularity >= REGULARITY)
            .map(|(lag, _)| (60.0 * self.rate_hz / lag as f64) as f32)
    }

    /// In a window the detector flags as flutter: the rate of a cycle regular enough and
    /// slow enough to be VT. The cycle is searched down to `MIN_FLUTTER_LAG`, so a flutter
    /// at 250–350 bpm shows as its own cycle and is left to the VF rule.
    fn regular_in_flutter(&self) -> Option<f32> {
        self.rhythm(MIN_FLUTTER_LAG)
            .filter(|(lag, regularity)| *lag >= MIN_VT_LAG && *regularity >= FLUTTER_REGULARITY)
            .map(|(lag, _)| (60.0 * self.rate_hz / lag as f64) as f32)
            .filter(|bpm| *bpm <= FLUTTER_VT_MAX_BPM)
    }

    /// The most regular lead's dominant cycle (lag, in decimated samples, of at least
    /// `min_lag`) and its regularity.
    pub fn rhythm(&self, min_lag: usize) -> Option<(usize, f32)> {
        if self.filled < RING {
            return None;
        }
        (0..self.leads)
            .filter_map(|lead| self.cycle(lead, min_lag))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Decimated samples per second.
    pub fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    /// One lead's cycle (in decimated samples, at least `min_lag`) and its regularity.
    fn cycle(&self, lead: usize, min_lag: usize) -> Option<(usize, f32)> {
        // Oldest first: the ring's head is the oldest sample once it is full.
        let x: Vec<f32> = (0..RING)
            .map(|k| f32::from(self.ring[lead][(self.head + k) % RING]))
            .collect();
        let corr: Vec<f32> = (0..=MAX_LAG).map(|lag| correlation(&x, lag)).collect();
        let best = corr[min_lag..].iter().copied().fold(f32::MIN, f32::max);
        let lag = (min_lag..=MAX_LAG).find(|lag| {
            let c = corr[*lag];
            c >= SHORTER_CYCLE_SHARE * best
                && c >= corr[lag - 1]
                && corr.get(lag + 1).is_none_or(|next| c >= *next)
        })?;
        let twice = correlation(&x, 2 * lag);
        Some((lag, corr[lag].min(twice)))
    }
}

/// Normalised correlation of the last `SPAN` samples of `x` with the same span `lag`
/// earlier (0 when either is flat).
fn correlation(x: &[f32], lag: usize) -> f32 {
    let now = &x[x.len() - SPAN..];
    let Some(start) = x.len().checked_sub(SPAN + lag) else {
        return 0.0;
    };
    let before = &x[start..start + SPAN];
    let (mut xy, mut xx, mut yy) = (0.0f32, 0.0f32, 0.0f32);
    for (a, b) in now.iter().zip(before) {
        xy += a * b;
        xx += a * a;
        yy += b * b;
    }
    if xx <= 0.0 || yy <= 0.0 {
        return 0.0;
    }
    xy / (xx * yy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: f64 = 250.0;

    /// Feeds `seconds` of `signal` (µV at sample i) and a beat every `beat_every_s` (None:
    /// the detector reports none); judges every one-second window as the monitor does.
    fn replay(
        signal: impl Fn(usize) -> f64,
        seconds: usize,
        beat_every_s: Option<f64>,
        unreported: bool,
    ) -> Vec<Option<FastActivity>> {
        replay_flagged(signal, seconds, beat_every_s, (unreported, false)).0
    }

    /// [`replay`] with the detector's flags (continuous activity, flutter) given; also
    /// returns whether the last window was VT in flutter.
    fn replay_flagged(
        signal: impl Fn(usize) -> f64,
        seconds: usize,
        beat_every_s: Option<f64>,
        flags: (bool, bool),
    ) -> (Vec<Option<FastActivity>>, bool) {
        let mut fast = FastVentricularActivity::new(FS, 1);
        let mut next_beat = beat_every_s.unwrap_or(f64::INFINITY);
        let mut out = Vec::new();
        for i in 0..seconds * FS as usize {
            fast.on_frame(&[signal(i) as i16]);
            let t = i as f64 / FS;
            if t >= next_beat {
                fast.on_beat(i as u64);
                next_beat += beat_every_s.unwrap_or(f64::INFINITY);
            }
            if (i + 1) % FS as usize == 0 {
                out.push(fast.on_window(i as u64, true, flags, 100.0));
            }
        }
        (out, fast.vt_in_flutter())
    }

    /// Wide complexes at `bpm`, never back to baseline (a fast monomorphic VT).
    fn vt(bpm: f64) -> impl Fn(usize) -> f64 {
        move |i| {
            let phase = 2.0 * std::f64::consts::PI * bpm / 60.0 * i as f64 / FS;
            1500.0 * phase.sin() + 400.0 * (2.0 * phase).cos()
        }
    }

    #[test]
    fn under_counted_fast_wide_complexes_are_found_with_their_rate_and_duration() {
        let found = replay(vt(150.0), 12, None, true);
        // The ring fills after ~5.2 s; then two windows in a row.
        assert!(found[..6].iter().all(Option::is_none), "{found:?}");
        let last = found.last().copied().flatten().expect("found");
        assert!((last.bpm - 150.0).abs() < 8.0, "{last:?}");
        let first = found.iter().flatten().next().expect("found");
        assert!(last.lasted_s > first.lasted_s + 4.0, "{found:?}");
        // The detector finding every second complex is still under-counting.
        let half = replay(vt(150.0), 12, Some(0.8), true);
        assert!(half.last().copied().flatten().is_some(), "{half:?}");
    }

    #[test]
    fn a_rhythm_the_detector_counts_or_does_not_flag_is_left_to_the_beat_path() {
        let counted = replay(vt(150.0), 12, Some(0.4), true);
        assert!(counted.iter().all(Option::is_none), "{counted:?}");
        let unflagged = replay(vt(150.0), 12, None, false);
        assert!(unflagged.iter().all(Option::is_none), "{unflagged:?}");
    }

    #[test]
    fn slow_rhythms_noise_and_a_qrs_with_its_t_wave_are_not_fast_activity() {
        // 80 bpm wide complexes: regular but under the VT rate.
        assert!(replay(vt(80.0), 12, None, true).iter().all(Option::is_none));
        // Reproducible broadband noise (an integer hash), large.
        let noise = |i: usize| {
            let h = (i as u64 ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            ((h >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 3000.0
        };
        assert!(replay(noise, 12, None, true).iter().all(Option::is_none));
        // Sinus at 60 bpm: a sharp QRS and a T wave 0.3 s later, never repeating at 0.6 s.
        let sinus = |i: usize| {
            let t = (i as f64 / FS) % 1.0;
            let bump = |at: f64, width: f64, mv: f64| mv * (-((t - at) / width).powi(2)).exp();
            bump(0.1, 0.015, 1500.0) + bump(0.4, 0.05, 500.0)
        };
        assert!(replay(sinus, 12, None, true).iter().all(Option::is_none));
    }

    #[test]
    fn in_flutter_a_regular_rhythm_at_a_vt_rate_is_vt_and_flutter_or_fibrillation_is_not() {
        let flutter = (true, true);
        // vfdb 611: a regular monomorphic VT at ~136 bpm that the detector flags as flutter.
        let (found, is_vt) = replay_flagged(vt(136.0), 12, None, flutter);
        let last = found.last().copied().flatten().expect("VT in flutter");
        assert!((last.bpm - 136.0).abs() < 8.0 && is_vt, "{found:?}");
        // Ventricular flutter, ~300 bpm: its own cycle is shorter than any VT's.
        let (found, is_vt) = replay_flagged(vt(300.0), 12, None, flutter);
        assert!(found.iter().all(Option::is_none) && !is_vt, "{found:?}");
        // Regular but faster than `FLUTTER_VT_MAX_BPM`: left to the VF rule.
        let (found, is_vt) = replay_flagged(vt(190.0), 12, None, flutter);
        assert!(found.iter().all(Option::is_none) && !is_vt, "{found:?}");
        // Coarse fibrillation at a VT rate: waves of 1.9–2.7 Hz (114–162 bpm) that drift in
        // and out of phase, so no cycle repeats over the window.
        let fibrillation = |i: usize| {
            let t = i as f64 / FS;
            let wave = |hz: f64, phase: f64| (2.0 * std::f64::consts::PI * hz * t + phase).sin();
            800.0 * wave(1.9, 0.0) + 700.0 * wave(2.27, 1.0) + 600.0 * wave(2.7, 2.0)
        };
        // Its dominant cycle is at a VT rate: only its irregularity makes it not VT.
        let mut fast = FastVentricularActivity::new(FS, 1);
        for i in 0..12 * FS as usize {
            fast.on_frame(&[fibrillation(i) as i16]);
        }
        let cycle = fast.rhythm(MIN_FLUTTER_LAG);
        let bpm = cycle.map(|(lag, _)| 60.0 * fast.rate_hz() / lag as f64);
        assert!(
            bpm.is_some_and(|b| (100.0..=150.0).contains(&b)),
            "{cycle:?}"
        );
        let (found, is_vt) = replay_flagged(fibrillation, 12, None, flutter);
        assert!(found.iter().all(Option::is_none) && !is_vt, "{found:?}");
    }
}
