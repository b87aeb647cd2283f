//! The figures of a monitoring report (docs/reports.md): monitoring and analysable time,
//! heart rate (minimum, mean, maximum and a trend per minute), AF burden and the longest
//! episode, ventricular ectopy (burden, couplets, runs), pauses, and the alarms with their
//! acknowledgement times. Pure: the caller feeds the stored frames in time order, chunk
//! by chunk ([`SummaryBuilder::push`]), so a day of ECG never sits in memory at once, and
//! hands over the alerts at the end. The PDF and the JSON of `GET
//! /v1/patients/{id}/report` are both made from the one [`MonitoringSummary`].
//!
//! The beats, their classes and the signal quality come from the engine's own detector,
//! classifier and quality windows (`cw_detect`), and AF from its irregularity measure
//! ([`crate::af`]), so the report says what the monitoring saw.

use crate::af::{AfJudgement, AfRhythm};
use cw_core::rules::AfRule;
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{Alert, Priority, RuleKind};
use cw_detect::{BeatClass, BeatClassifier, QrsDetector, SignalQuality};
use serde::{Deserialize, Serialize};

/// An RR interval at least this long (over analysable signal) is a pause: the usual Holter
/// threshold; the pause alarm's own limit is the patient's policy.
pub const PAUSE_S: f64 = 2.0;
/// Heart-rate trend resolution, and the fewest RR intervals a minute needs to count.
pub const TREND_NS: Nanos = 60 * NANOS_PER_SEC;
const TREND_MIN_INTERVALS: u32 = 10;
/// Event strips at most: the highest-priority alarms first.
pub const MAX_STRIPS: usize = 6;
/// Seconds of ECG in an event strip (25 cm of paper at 25 mm/s) and how much of it comes
/// before the alarm fired.
pub const STRIP_S: i64 = 10;
pub const STRIP_BEFORE_S: i64 = 6;

/// Heart rate over the analysable signal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartRateSummary {
    /// Slowest and fastest minute (bpm, whole beats), and when each began.
    pub min_bpm: f64,
    pub min_at_ns: Nanos,
    pub max_bpm: f64,
    pub max_at_ns: Nanos,
    /// 60 / the mean of every analysable RR interval of the range.
    pub mean_bpm: f64,
}

/// One minute of the heart-rate trend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendPoint {
    pub at_ns: Nanos,
    pub bpm: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AfSummary {
    /// AF time over analysable time, %.
    pub burden_pct: f64,
    pub af_s: f64,
    pub episodes: u32,
    pub longest_s: f64,
    pub longest_start_ns: Option<Nanos>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EctopySummary {
    /// Beats with a class (N, S, V, F; not Q, the classifier's "cannot tell").
    pub classified_beats: u64,
    pub pvcs: u64,
    /// PVCs over classified beats, %.
    pub pvc_burden_pct: f64,
    pub svebs: u64,
    /// Runs of V beats: exactly 2 (couplets), 3 or more (runs).
    pub isolated_pvcs: u64,
    pub couplets: u64,
    pub runs: u64,
    pub longest_run_beats: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PauseSummary {
    pub threshold_s: f64,
    pub count: u64,
    pub longest_s: f64,
    pub longest_at_ns: Option<Nanos>,
}

/// An alarm of the range: when it fired, was acknowledged (and by whom) and ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlarmRow {
    pub id: String,
    pub rule: RuleKind,
    pub priority: Priority,
    pub technical: bool,
    pub fired_ns: Nanos,
    pub acked_ns: Option<Nanos>,
    /// The user id of who acknowledged (no PHI).
    pub acked_by: Option<String>,
    /// Seconds from firing to acknowledgement.
    pub ack_after_s: Option<f64>,
    pub resolved_ns: Option<Nanos>,
}

/// Every figure of a report over `[from_ns, to_ns)`. Durations in seconds and
/// percentages are rounded to a tenth, rates to whole beats, once, here: the PDF prints
/// these very values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonitoringSummary {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
    /// Time covered by stored ECG.
    pub monitoring_s: f64,
    /// Of it, time in one-second windows with at least one analysable lead.
    pub analysable_s: f64,
    /// Beats detected.
    pub beats: u64,
    /// None when no minute held enough analysable intervals.
    pub heart_rate: Option<HeartRateSummary>,
    pub hr_trend: Vec<TrendPoint>,
    pub af: AfSummary,
    pub ectopy: EctopySummary,
    pub pauses: PauseSummary,
    /// Alarms that fired in the range, oldest first.
    pub alarms: Vec<AlarmRow>,
}

/// Stored ECG around an alarm for the report's event strips.
#[derive(Clone, Debug, PartialEq)]
pub struct Strip {
    /// What it shows ("hr_high high, fired 12:03:04").
    pub label: String,
    pub start_ns: Nanos,
    pub end_ns: Nanos,
    /// When the alarm fired (marked on the paper).
    pub fired_ns: Nanos,
    /// Frames inside it, in time order (µV per lead).
    pub frames: Vec<(Nanos, Vec<i16>)>,
    /// The beats the figures counted inside it: time and AAMI class letter.
    pub beats: Vec<(Nanos, char)>,
}

/// One run of frames without a gap and with one geometry: its own detector, as the
/// engine restarts its stream on a gap.
struct Segment {
    start_ns: Nanos,
    rate_hz: u32,
    leads: usize,
    last_ns: Nanos,
    frames: u64,
    detector: QrsDetector,
    classifier: BeatClassifier,
    quality: SignalQuality,
    /// Per one-second window: analysable.
    windows: Vec<bool>,
    beats: Vec<(u64, BeatClass)>,
}

impl Segment {
    fn new(t: Nanos, rate_hz: u32, leads: usize) -> Self {
        let fs = f64::from(rate_hz);
        Self {
            start_ns: t,
            rate_hz,
            leads,
            last_ns: t,
            frames: 0,
            detector: QrsDetector::new(fs, leads),
            classifier: BeatClassifier::new(fs, leads),
            quality: SignalQuality::new(fs, leads),
            windows: Vec::new(),
            beats: Vec::new(),
        }
    }

    fn push(&mut self, t: Nanos, frame: &[i16]) {
        let beat = self.detector.push(frame);
        if let Some(b) = self.classifier.push(frame, beat) {
            self.beats.push((b.sample, b.class));
        }
        if let Some(w) = self.quality.push(frame) {
            self.windows.push(w.analysable());
        }
        self.frames += 1;
        self.last_ns = t;
    }

    fn period_ns(&self) -> Nanos {
        NANOS_PER_SEC / i64::from(self.rate_hz.max(1))
    }

    fn at(&self, sample: u64) -> Nanos {
        self.start_ns
            + (sample as i128 * i128::from(NANOS_PER_SEC) / i128::from(self.rate_hz)) as Nanos
    }

    /// The interval `a..b` (samples) lies over analysable windows only.
    fn analysable(&self, a: u64, b: u64) -> bool {
        let per = u64::from(self.rate_hz.max(1));
        let (first, last) = ((a / per) as usize, (b / per) as usize);
        last < self.windows.len() && self.windows[first..=last].iter().all(|&ok| ok)
    }
}

/// The version of [`SummaryPart`]'s meaning: bumped whenever the analysis or the part
/// changes, so a stored part of another version is computed again (docs/reports.md).
pub const PART_VERSION: u32 = 1;

/// Everything the segments of a range gave, unrounded: what a report is made from
/// ([`SummaryPart::summary`]), and what parts of adjacent ranges merge into
/// ([`SummaryPart::merge`]) — the per-day summaries of a report over many days
/// (docs/reports.md, "Reports over many days").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryPart {
    /// Covered by stored frames (frames × period).
    pub monitoring_ns: i64,
    pub analysable_windows_s: f64,
    pub beats: u64,
    pub rr_sum_s: f64,
    pub rr_count: u64,
    /// Per trend minute, by the time it begins: (sum of RR s, intervals).
    pub minutes: std::collections::BTreeMap<Nanos, (f64, u32)>,
    /// AF seconds, episodes and the longest (unrounded; `burden_pct` unset).
    pub af: AfSummary,
    /// Counts (`pvc_burden_pct` unset).
    pub ectopy: EctopySummary,
    pub pauses: PauseSummary,
}

impl SummaryPart {
    /// Nothing yet, pauses counted from [`PAUSE_S`].
    pub fn new() -> Self {
        Self {
            pauses: PauseSummary {
                threshold_s: PAUSE_S,
                ..PauseSummary::default()
            },
            ..Self::default()
        }
    }

    /// Adds the part of the range that follows, which starts a whole number of trend
    /// minutes after this one (days do), so their minutes coincide. Counts and sums add,
    /// longest and largest take the greater (the earlier on a tie); an episode or a run
    /// that crosses from one part into the next counts in each, as at a gap in the ECG.
    pub fn merge(&mut self, next: &SummaryPart) {
        self.monitoring_ns += next.monitoring_ns;
        self.analysable_windows_s += next.analysable_windows_s;
        self.beats += next.beats;
        self.rr_sum_s += next.rr_sum_s;
        self.rr_count += next.rr_count;
        for (at, (sum, n)) in &next.minutes {
            let m = self.minutes.entry(*at).or_insert((0.0, 0));
            m.0 += sum;
            m.1 += n;
        }
        let (a, b) = (&mut self.af, &next.af);
        a.af_s += b.af_s;
        a.episodes += b.episodes;
        if b.longest_s > a.longest_s {
            a.longest_s = b.longest_s;
            a.longest_start_ns = b.longest_start_ns;
        }
        let (a, b) = (&mut self.ectopy, &next.ectopy);
        a.classified_beats += b.classified_beats;
        a.pvcs += b.pvcs;
        a.svebs += b.svebs;
        a.isolated_pvcs += b.isolated_pvcs;
        a.couplets += b.couplets;
        a.runs += b.runs;
        a.longest_run_beats = a.longest_run_beats.max(b.longest_run_beats);
        let (a, b) = (&mut self.pauses, &next.pauses);
        a.threshold_s = b.threshold_s;
        a.count += b.count;
        if b.longest_s > a.longest_s {
            a.longest_s = b.longest_s;
            a.longest_at_ns = b.longest_at_ns;
        }
    }

    /// The figures over `[from_ns, to_ns)`, with `alerts` (any order; those that fired
    /// in the range are listed), rounded once, here.
    pub fn summary(&self, from_ns: Nanos, to_ns: Nanos, alerts: &[Alert]) -> MonitoringSummary {
        let t = self;
        let heart_rate = heart_rate(t);
        let hr_trend = t
            .minutes
            .iter()
            .filter(|(_, (_, n))| *n >= TREND_MIN_INTERVALS)
            .map(|(at, (sum, n))| TrendPoint {
                at_ns: *at,
                bpm: (60.0 * f64::from(*n) / sum).round(),
            })
            .collect();
        let analysable_s = t.analysable_windows_s;
        let mut af = t.af.clone();
        af.burden_pct = percent(af.af_s, analysable_s);
        af.af_s = tenth(af.af_s);
        af.longest_s = tenth(af.longest_s);
        let mut ectopy = t.ectopy.clone();
        ectopy.pvc_burden_pct = percent(ectopy.pvcs as f64, ectopy.classified_beats as f64);
        let mut pauses = t.pauses.clone();
        pauses.longest_s = tenth(pauses.longest_s);
        let mut alarms: Vec<AlarmRow> = alerts
            .iter()
            .filter(|a| (from_ns..to_ns).contains(&a.fired_ns))
            .map(|a| AlarmRow {
                id: a.id.to_string(),
                rule: a.rule,
                priority: a.priority,
                technical: a.rule.is_technical(),
                fired_ns: a.fired_ns,
                acked_ns: a.acked_ns,
                acked_by: a.acked_by.clone(),
                ack_after_s: a
                    .acked_ns
                    .map(|at| tenth((at - a.fired_ns) as f64 / NANOS_PER_SEC as f64)),
                resolved_ns: a.resolved_ns,
            })
            .collect();
        alarms.sort_by_key(|a| a.fired_ns);
        MonitoringSummary {
            from_ns,
            to_ns,
            monitoring_s: tenth(t.monitoring_ns as f64 / NANOS_PER_SEC as f64),
            analysable_s: tenth(analysable_s),
            beats: t.beats,
            heart_rate,
            hr_trend,
            af,
            ectopy,
            pauses,
            alarms,
        }
    }
}

/// Folds stored frames into a [`MonitoringSummary`].
pub struct SummaryBuilder {
    from_ns: Nanos,
    to_ns: Nanos,
    af: AfRule,
    rate_hz: u32,
    segment: Option<Segment>,
    tally: SummaryPart,
    strips: Vec<Strip>,
}

impl SummaryBuilder {
    /// A report over `[from_ns, to_ns)` of ECG sampled at `rate_hz` (the caller infers it
    /// from the first chunk, `backtest::infer_rate`), with AF judged as `af` sets it, and
    /// event strips for `alerts` (the highest priority first, at most [`MAX_STRIPS`]).
    pub fn new(from_ns: Nanos, to_ns: Nanos, rate_hz: u32, af: AfRule, alerts: &[Alert]) -> Self {
        let strips = strip_alerts(alerts, from_ns, to_ns)
            .iter()
            .map(|a| {
                let start_ns = a.fired_ns - STRIP_BEFORE_S * NANOS_PER_SEC;
                Strip {
                    label: format!(
                        "{} ({} priority), fired {}",
                        a.rule.describe(),
                        a.priority.as_str(),
                        clock(a.fired_ns)
                    ),
                    start_ns,
                    end_ns: start_ns + STRIP_S * NANOS_PER_SEC,
                    fired_ns: a.fired_ns,
                    frames: Vec::new(),
                    beats: Vec::new(),
                }
            })
            .collect();
        Self {
            from_ns,
            to_ns,
            af,
            rate_hz,
            segment: None,
            tally: SummaryPart::new(),
            strips,
        }
    }

    /// The next stored frames, in time order after those pushed before. Frames outside
    /// the range, or with a lead count other than the segment's, are left out.
    pub fn push(&mut self, frames: &[(Nanos, Vec<i16>)]) {
        if self.rate_hz == 0 {
            return;
        }
        let period = NANOS_PER_SEC / i64::from(self.rate_hz);
        for (t, values) in frames {
            if !(self.from_ns..self.to_ns).contains(t) || values.is_empty() {
                continue;
            }
            for strip in &mut self.strips {
                if (strip.start_ns..strip.end_ns).contains(t) {
                    strip.frames.push((*t, values.clone()));
                }
            }
            let continues = self.segment.as_ref().is_some_and(|s| {
                s.leads == values.len() && *t > s.last_ns && *t - s.last_ns <= period + period / 2
            });
            if !continues {
                self.close_segment();
                self.segment = Some(Segment::new(*t, self.rate_hz, values.len()));
            }
            if let Some(s) = &mut self.segment {
                s.push(*t, values);
            }
        }
    }

    /// The figures, with `alerts` (any order; those that fired in the range are listed),
    /// and the event strips.
    pub fn finish(self, alerts: &[Alert]) -> (MonitoringSummary, Vec<Strip>) {
        let (from_ns, to_ns) = (self.from_ns, self.to_ns);
        let (part, strips) = self.finish_part();
        (part.summary(from_ns, to_ns, alerts), strips)
    }

    /// The unrounded part of the range (to merge with the parts of other ranges), and the
    /// event strips.
    pub fn finish_part(mut self) -> (SummaryPart, Vec<Strip>) {
        self.close_segment();
        (self.tally, self.strips)
    }

    /// Folds the segment in progress into the tally.
    fn close_segment(&mut self) {
        let Some(mut s) = self.segment.take() else {
            return;
        };
        let last = s.detector.finish();
        let rest: Vec<_> = s.classifier.finish(last).collect();
        s.beats
            .extend(rest.into_iter().map(|b| (b.sample, b.class)));
        for strip in &mut self.strips {
            strip.beats.extend(
                s.beats
                    .iter()
                    .map(|(sample, class)| (s.at(*sample), class.code()))
                    .filter(|(at, _)| (strip.start_ns..strip.end_ns).contains(at)),
            );
        }
        let t = &mut self.tally;
        t.monitoring_ns += s.frames as i64 * s.period_ns();
        // Whole windows only: the last partial second was never judged.
        t.analysable_windows_s += s.windows.iter().filter(|&&ok| ok).count() as f64
            * (f64::from(s.rate_hz).round() / f64::from(s.rate_hz));
        t.beats += s.beats.len() as u64;
        ectopy(&s.beats, &mut t.ectopy);
        let fs = f64::from(s.rate_hz);
        let mut rhythm = AfRhythm::default();
        let mut episode: Option<(Nanos, f64)> = None;
        let end_episode = |episode: &mut Option<(Nanos, f64)>, af: &mut AfSummary| {
            if let Some((start, length)) = episode.take() {
                af.episodes += 1;
                if length > af.longest_s {
                    af.longest_s = length;
                    af.longest_start_ns = Some(start);
                }
            }
        };
        for pair in s.beats.windows(2) {
            let ((a, _), (b, class)) = (pair[0], pair[1]);
            let trusted = b > a && s.analysable(a, b);
            rhythm.on_beat(b, class, trusted, fs);
            if !trusted {
                end_episode(&mut episode, &mut t.af);
                continue;
            }
            let rr = (b - a) as f64 / fs;
            t.rr_sum_s += rr;
            t.rr_count += 1;
            let minute = self.from_ns + (s.at(b) - self.from_ns).div_euclid(TREND_NS) * TREND_NS;
            let m = t.minutes.entry(minute).or_insert((0.0, 0));
            m.0 += rr;
            m.1 += 1;
            if rr >= PAUSE_S {
                t.pauses.count += 1;
                if rr > t.pauses.longest_s {
                    t.pauses.longest_s = rr;
                    t.pauses.longest_at_ns = Some(s.at(a));
                }
            }
            let in_af = matches!(rhythm.judge(usize::from(self.af.window_beats)),
                AfJudgement::Irregularity(irr) if irr > self.af.irregularity);
            if in_af {
                t.af.af_s += rr;
                let e = episode.get_or_insert((s.at(a), 0.0));
                e.1 += rr;
            } else {
                end_episode(&mut episode, &mut t.af);
            }
        }
        end_episode(&mut episode, &mut t.af);
    }
}

/// The alerts of `[from_ns, to_ns)` that get an event strip: the highest priority first
/// (then the oldest), at most [`MAX_STRIPS`], in the order they fired.
pub fn strip_alerts(alerts: &[Alert], from_ns: Nanos, to_ns: Nanos) -> Vec<&Alert> {
    let mut chosen: Vec<&Alert> = alerts
        .iter()
        .filter(|a| (from_ns..to_ns).contains(&a.fired_ns))
        .collect();
    chosen.sort_by_key(|a| (rank(a.priority), a.fired_ns));
    chosen.truncate(MAX_STRIPS);
    chosen.sort_by_key(|a| a.fired_ns);
    chosen
}

/// Every beat's class counted once; a run of V beats is counted where it ends (a beat of
/// another class, a Q beat, or the segment's end).
fn ectopy(beats: &[(u64, BeatClass)], e: &mut EctopySummary) {
    let mut run = 0u32;
    let end_run = |run: &mut u32, e: &mut EctopySummary| {
        match *run {
            0 => {}
            1 => e.isolated_pvcs += 1,
            2 => e.couplets += 1,
            n => {
                e.runs += 1;
                e.longest_run_beats = e.longest_run_beats.max(n);
            }
        }
        *run = 0;
    };
    for (_, class) in beats {
        match class {
            BeatClass::V => {
                e.pvcs += 1;
                e.classified_beats += 1;
                run += 1;
            }
            BeatClass::Q => end_run(&mut run, e),
            other => {
                e.classified_beats += 1;
                if *other == BeatClass::S {
                    e.svebs += 1;
                }
                end_run(&mut run, e);
            }
        }
    }
    end_run(&mut run, e);
}

fn heart_rate(t: &SummaryPart) -> Option<HeartRateSummary> {
    let minutes: Vec<(Nanos, f64)> = t
        .minutes
        .iter()
        .filter(|(_, (_, n))| *n >= TREND_MIN_INTERVALS)
        .map(|(at, (sum, n))| (*at, (60.0 * f64::from(*n) / sum).round()))
        .collect();
    let min = minutes.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let max = minutes.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(HeartRateSummary {
        min_bpm: min.1,
        min_at_ns: min.0,
        max_bpm: max.1,
        max_at_ns: max.0,
        mean_bpm: (60.0 * t.rr_count as f64 / t.rr_sum_s).round(),
    })
}

/// High first: strips go to the alarms that matter most.
fn rank(p: Priority) -> u8 {
    match p {
        Priority::High => 0,
        Priority::Medium => 1,
        Priority::Low => 2,
    }
}

fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        tenth(100.0 * part / whole)
    } else {
        0.0
    }
}

/// `hh:mm:ss` UTC of a time (the report prints dates in its header).
pub fn clock(t: Nanos) -> String {
    let d = cw_core::time::UtcDateTime::from_nanos(t);
    format!("{:02}:{:02}:{:02}", d.hour, d.minute, d.second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::PatientId;

    fn af_defaults() -> AfRule {
        AfRule {
            window_beats: 24,
            irregularity: 0.06,
            priority: Priority::Medium,
            for_s: 15.0,
            clear_s: 10.0,
        }
    }

    /// 250 Hz, one lead: a narrow 1.5 mV spike at each beat time (s) on a slow 60 µV
    /// wander (real signal is never flat), `seconds` long from `t0`.
    fn trace(beats: &[f64], seconds: f64, t0: Nanos) -> Vec<(Nanos, Vec<i16>)> {
        let rate = 250.0;
        (0..(seconds * rate) as usize)
            .map(|i| {
                let t = i as f64 / rate;
                let spike = beats
                    .iter()
                    .map(|b| t - b)
                    .filter(|d| (0.0..0.02).contains(d))
                    .map(|d| 1500.0 * (1.0 - d / 0.02))
                    .sum::<f64>();
                let wander = 60.0 * (t * 2.0 * std::f64::consts::PI * 0.3).sin();
                (
                    t0 + (t * NANOS_PER_SEC as f64) as Nanos,
                    vec![(spike + wander) as i16],
                )
            })
            .collect()
    }

    #[test]
    fn steady_rate_with_one_pause_gives_its_rate_pause_and_times() {
        let t0 = 1_000 * NANOS_PER_SEC;
        // 1 s RR for 150 s, then a 3 s pause, then 1 s RR again.
        let mut beats: Vec<f64> = (0..150).map(f64::from).collect();
        beats.extend((0..100).map(|k| 152.0 + f64::from(k)));
        let frames = trace(&beats, 252.0, t0);
        let mut b = SummaryBuilder::new(t0, t0 + 300 * NANOS_PER_SEC, 250, af_defaults(), &[]);
        for chunk in frames.chunks(10_000) {
            b.push(chunk);
        }
        let (s, strips) = b.finish(&[]);
        assert!(strips.is_empty());
        assert_eq!(s.monitoring_s, 252.0);
        assert!(s.analysable_s >= 245.0, "{}", s.analysable_s);
        let hr = s.heart_rate.expect("heart rate");
        // The minute holding the pause is the slowest: 58 intervals in 60 s.
        assert_eq!((hr.min_bpm, hr.max_bpm), (58.0, 60.0), "{hr:?}");
        assert_eq!(hr.min_at_ns, t0 + 120 * NANOS_PER_SEC);
        assert!((59.0..=60.0).contains(&hr.mean_bpm), "{hr:?}");
        assert_eq!(s.hr_trend.len(), 5, "{:?}", s.hr_trend);
        assert_eq!(s.pauses.count, 1, "{:?}", s.pauses);
        assert_eq!(s.pauses.longest_s, 3.0);
        let at = s.pauses.longest_at_ns.expect("when");
        assert!(
            (at - (t0 + 149 * NANOS_PER_SEC)).abs() < NANOS_PER_SEC / 10,
            "{at}"
        );
        assert_eq!(s.af.episodes, 0);
    }

    #[test]
    fn a_gap_ends_the_segment_and_is_not_monitoring_time_nor_a_pause() {
        let t0 = 5_000 * NANOS_PER_SEC;
        let beats: Vec<f64> = (0..60).map(|k| f64::from(k) * 0.8).collect();
        let first = trace(&beats, 48.0, t0);
        let second = trace(&beats, 48.0, t0 + 100 * NANOS_PER_SEC);
        let mut b = SummaryBuilder::new(t0, t0 + 200 * NANOS_PER_SEC, 250, af_defaults(), &[]);
        b.push(&first);
        b.push(&second);
        let (s, _) = b.finish(&[]);
        assert_eq!(s.monitoring_s, 96.0);
        assert_eq!(s.pauses.count, 0);
        assert_eq!(s.heart_rate.expect("rate").mean_bpm, 75.0);
    }

    #[test]
    fn parts_on_either_side_of_a_gap_merge_into_the_whole_ranges_figures() {
        let t0 = 5_000 * NANOS_PER_SEC;
        let mut beats: Vec<f64> = (0..60).map(|k| f64::from(k) * 0.8).collect();
        beats.extend((0..20).map(|k| 50.0 + f64::from(k) * 0.5));
        let first = trace(&beats, 60.0, t0);
        let second = trace(&beats, 60.0, t0 + 120 * NANOS_PER_SEC);
        // The parts meet on a whole minute of the range, as days do.
        let (mid, end) = (t0 + 120 * NANOS_PER_SEC, t0 + 240 * NANOS_PER_SEC);
        let mut whole = SummaryBuilder::new(t0, end, 250, af_defaults(), &[]);
        whole.push(&first);
        whole.push(&second);
        let (expected, _) = whole.finish(&[]);
        let mut a = SummaryBuilder::new(t0, mid, 250, af_defaults(), &[]);
        a.push(&first);
        let mut b = SummaryBuilder::new(mid, end, 250, af_defaults(), &[]);
        b.push(&second);
        let (mut part, _) = a.finish_part();
        let (later, _) = b.finish_part();
        part.merge(&later);
        assert_eq!(part.summary(t0, end, &[]), expected);
        assert_eq!(expected.monitoring_s, 120.0);
        assert!(expected.hr_trend.len() >= 2, "{expected:?}");
    }

    #[test]
    fn v_runs_are_counted_as_isolated_couplets_and_runs_where_they_end() {
        use BeatClass::{N, Q, S, V};
        let classes = [N, V, N, V, V, N, V, V, V, V, S, Q, V, Q, V, V, V];
        let beats: Vec<(u64, BeatClass)> = classes.iter().map(|c| (0, *c)).collect();
        let mut e = EctopySummary::default();
        ectopy(&beats, &mut e);
        assert_eq!(e.pvcs, 11);
        assert_eq!(e.classified_beats, 15);
        assert_eq!(e.svebs, 1);
        assert_eq!((e.isolated_pvcs, e.couplets, e.runs), (2, 1, 2));
        assert_eq!(e.longest_run_beats, 4);
    }

    #[test]
    fn alarms_of_the_range_are_listed_with_their_ack_delay_and_get_strips_high_first() {
        let p = PatientId::parse("p-1").expect("id");
        let at = |s: i64| s * NANOS_PER_SEC;
        let mut acked = Alert::firing(p.clone(), RuleKind::HrHigh, Priority::Medium, at(100));
        acked.acked_ns = Some(at(142) + NANOS_PER_SEC / 2);
        acked.acked_by = Some("dr-a".into());
        let mut alerts = vec![
            acked,
            Alert::firing(p.clone(), RuleKind::Pause, Priority::High, at(200)),
            Alert::firing(p.clone(), RuleKind::HrLow, Priority::Low, at(5_000)),
        ];
        for k in 0..MAX_STRIPS {
            alerts.push(Alert::firing(
                p.clone(),
                RuleKind::Noise,
                Priority::Low,
                at(300 + k as i64),
            ));
        }
        let b = SummaryBuilder::new(at(0), at(1_000), 250, af_defaults(), &alerts);
        let (s, strips) = b.finish(&alerts);
        assert_eq!(s.alarms.len(), 2 + MAX_STRIPS);
        assert_eq!(s.alarms[0].ack_after_s, Some(42.5));
        assert_eq!(s.alarms[0].acked_by.as_deref(), Some("dr-a"));
        assert_eq!(strips.len(), MAX_STRIPS);
        assert_eq!(strips[0].start_ns, at(94));
        assert_eq!(strips[1].end_ns, at(204));
        assert!(
            strips[1].label.contains("high priority"),
            "{}",
            strips[1].label
        );
    }

    #[test]
    fn record_100_reads_as_sinus_rhythm_at_its_rate() {
        let record = cw_wfdb::Record::open(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/mitdb/100"),
        )
        .expect("record 100");
        let uv = record.microvolts_interleaved();
        let step = NANOS_PER_SEC / 360;
        let frames: Vec<(Nanos, Vec<i16>)> = uv
            .chunks_exact(2)
            .take(360 * 300)
            .enumerate()
            .map(|(i, f)| (i as Nanos * step, f.to_vec()))
            .collect();
        let mut b = SummaryBuilder::new(0, 300 * NANOS_PER_SEC, 360, af_defaults(), &[]);
        b.push(&frames);
        let (s, _) = b.finish(&[]);
        let hr = s.heart_rate.expect("rate");
        assert!((70.0..=80.0).contains(&hr.mean_bpm), "{hr:?}");
        assert_eq!(s.af.episodes, 0, "{:?}", s.af);
        assert_eq!(s.pauses.count, 0);
        assert!(s.ectopy.pvc_burden_pct < 1.0, "{:?}", s.ectopy);
        assert!(s.analysable_s > 290.0, "{}", s.analysable_s);
    }

    #[test]
    fn a_strip_holds_its_frames_and_the_beats_counted_inside_it() {
        let t0 = 9_000 * NANOS_PER_SEC;
        let beats: Vec<f64> = (0..60).map(f64::from).collect();
        let frames = trace(&beats, 60.0, t0);
        let p = PatientId::parse("p-1").expect("id");
        let alert = Alert::firing(p, RuleKind::Pause, Priority::High, t0 + 30 * NANOS_PER_SEC);
        let alerts = [alert];
        let mut b = SummaryBuilder::new(t0, t0 + 60 * NANOS_PER_SEC, 250, af_defaults(), &alerts);
        b.push(&frames);
        let (_, strips) = b.finish(&alerts);
        let strip = &strips[0];
        assert_eq!(strip.fired_ns, t0 + 30 * NANOS_PER_SEC);
        assert_eq!(strip.frames.len(), 2500);
        // 10 s at 1 s RR: the beats at 24 … 33 s (each within a sample or two).
        assert_eq!(strip.beats.len(), 10, "{:?}", strip.beats);
        assert!(
            strip
                .beats
                .iter()
                .all(|(at, _)| (strip.start_ns..strip.end_ns).contains(at))
        );
        assert!(strip.beats.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
