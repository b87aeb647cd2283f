//! One patient's live analysis: beats → heart rate, rhythm and signal quality → rule state
//! machines, all on SAMPLE time. Pure (no I/O): it returns what should happen and the
//! caller makes it so. The same code runs live and in a backtest.

use crate::af::AfRhythm;
use crate::fast_activity::{FastActivity, FastVentricularActivity};
use crate::learning::Learning;
use crate::news2_escalation::{News2Assessment, assess};
use crate::noise_gate::{NOISY_BEAT, NoiseGate};
use crate::rate::RobustRate;
use crate::rhythm::Rhythm;
use crate::rule_bank::{ClassFacts, RuleBank, WindowFacts};
use crate::ventricular::{VentricularRuns, counts_as_ventricular};
use crate::ventricular_ectopy::{Kind, VentricularEctopy};
use crate::vital_rules::VitalState;
use cw_core::messages::AnalysisState;
use cw_core::time::secs;
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{Episode, RuleKind, SampleBlock, ThresholdPolicy, VitalReading};
use cw_detect::{BeatClass, BeatClassifier, HeartRate, HrReading, QrsDetector, SignalQuality};

/// Something a rule decided, at sample time `at`.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleEvent {
    Fire {
        rule: RuleKind,
        started_ns: Nanos,
        at: Nanos,
        value: f32,
    },
    /// Another event of an open alert, or its worse value before it resolves: the
    /// episode so far (count, first, last, worst), for the alert to record.
    Episode {
        rule: RuleKind,
        at: Nanos,
        episode: Episode,
    },
    Resolve {
        rule: RuleKind,
        at: Nanos,
    },
}

/// The stream geometry the detector was built for; a change restarts it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Geometry {
    rate_hz: u32,
    leads: u8,
}

/// Per-stream analysis state, rebuilt on a gap or a new geometry.
struct Stream {
    detector: QrsDetector,
    /// Each beat's AAMI class, decided about one beat later.
    classifier: BeatClassifier,
    ventricular: VentricularRuns,
    ectopy: VentricularEctopy,
    /// Frames fed so far (the sample index of the next frame).
    frames: u64,
    /// RR intervals and the beat-to-beat rate; its own average is not used.
    heart_rate: HeartRate,
    /// The evaluated (and reported) rate: trimmed mean of the policy's N intervals.
    rate: RobustRate,
    quality: SignalQuality,
    rhythm: Rhythm,
    /// Intervals between classified beats, for atrial fibrillation.
    af: AfRhythm,
    /// Whether there is enough clean signal yet for physiological rules to fire.
    learning: Learning,
    /// Holds the rules noise fakes while noise is seen, and a while after.
    gate: NoiseGate,
    /// The latest quality window found a lead noisy and another calm and good.
    clean_lead_carries: bool,
    fs: f64,
    /// Sample index of the last beat, and since when every window was analysable.
    last_beat: Option<u64>,
    analysable_since: Option<u64>,
    /// The latest window was analysable (beats in between are judged by it).
    analysable: bool,
    /// Fast regular activity the detector under-counts (VT the beat path cannot see),
    /// and what the latest window found.
    fast: FastVentricularActivity,
    fast_vt: Option<FastActivity>,
}

pub struct PatientMonitor {
    geometry: Option<Geometry>,
    stream: Option<Stream>,
    /// Time of detector sample 0, and the time the next block should start at.
    origin_ns: Nanos,
    next_ns: Nanos,
    policy: ThresholdPolicy,
    rules: RuleBank,
    last_reading: Option<HrReading>,
    readings: u64,
    /// The last block's readings with their beat times (live views); each `process`
    /// starts it afresh, so it holds one block's beats at most.
    beats: Vec<(Nanos, HrReading)>,
    /// The analysis state to tell live views after the last block (see `analysis_news`).
    analysis_news: Option<(Nanos, AnalysisState)>,
    /// The patient's numerics (latest values, sensor states) for the vital-sign rules.
    vitals: VitalState,
    /// NEWS2 after the last batch of numerics (under the policy's settings or their
    /// defaults).
    news2: Option<News2Assessment>,
}

impl PatientMonitor {
    pub fn new(policy: ThresholdPolicy) -> Self {
        Self {
            geometry: None,
            stream: None,
            origin_ns: 0,
            next_ns: 0,
            policy,
            rules: RuleBank::default(),
            last_reading: None,
            readings: 0,
            beats: Vec::new(),
            analysis_news: None,
            vitals: VitalState::default(),
            news2: None,
        }
    }

    /// Feeds one batch of numerics (readings and sensor statuses) to the vital-sign
    /// rules (`vital_rules.rs`), in time order; returns their rule events. The batch is
    /// taken as received at its latest reading's time (a replay's clock); live, see
    /// [`Self::on_vitals_received`].
    pub fn on_vitals(&mut self, readings: &[VitalReading]) -> Vec<RuleEvent> {
        let Some(at) = readings.iter().map(|r| r.time_ns).max() else {
            return Vec::new();
        };
        self.on_vitals_received(readings, at)
    }

    /// [`Self::on_vitals`] of a batch received at `received_ns` on the caller's clock
    /// (the engine's wall clock), the clock the stale-numerics alarm measures silence on
    /// (`vital_alarms.rs`).
    pub fn on_vitals_received(
        &mut self,
        readings: &[VitalReading],
        received_ns: Nanos,
    ) -> Vec<RuleEvent> {
        let mut ordered: Vec<&VitalReading> = readings.iter().collect();
        ordered.sort_by_key(|r| r.time_ns);
        let mut events = Vec::new();
        let Some(at) = ordered.last().map(|r| r.time_ns) else {
            return Vec::new();
        };
        for r in ordered {
            self.rules
                .on_vital(&self.policy, &mut self.vitals, r, &mut events);
            self.vitals.clock.heard(r, received_ns);
        }
        self.rules
            .on_stale_check(&self.policy, &self.vitals.clock, received_ns, &mut events);
        // Scored for every patient with numerics (shown and kept as a trend), under the
        // policy's NEWS2 settings or their defaults, as the api scores it; escalation
        // only when the policy has it.
        let rule = self.policy.news2.clone().unwrap_or_default();
        // The ECG's rate stands in for a missing oximeter pulse while the ECG is current
        // (its last block ended within the age limit).
        let current = at.saturating_sub(self.next_ns) <= secs(f64::from(rule.max_age_s));
        let heart_rate = self
            .last_reading
            .filter(|_| self.stream.is_some() && current)
            .map(|r| f64::from(r.average_bpm));
        let assessment = assess(self.vitals.latest(), at, &rule, heart_rate);
        if self.policy.news2.is_some() {
            self.rules.on_news2(&self.policy, &assessment, &mut events);
        }
        self.news2 = Some(assessment);
        events
    }

    /// Clock check of the stale-numerics alarm at `now` (the receipt clock of
    /// [`Self::on_vitals_received`]): a sensor that stopped sends nothing to judge it on.
    pub fn on_vitals_clock(&mut self, now: Nanos) -> Vec<RuleEvent> {
        let mut events = Vec::new();
        self.rules
            .on_stale_check(&self.policy, &self.vitals.clock, now, &mut events);
        events
    }

    /// Sensors stale at `now` under the policy's stale-numerics rule (0 without it).
    pub fn stale_sensors(&self, now: Nanos) -> usize {
        self.policy
            .stale_numerics
            .as_ref()
            .map_or(0, |rule| self.vitals.clock.stale(rule, now))
    }

    /// Takes stored numerics (a warm-up after a takeover, at `now` on the receipt clock)
    /// into the latest values and sensor states without judging them: NEWS2 and the
    /// sensor-off rule resume from them at the next live batch, while an episode they
    /// show that the last owner already alarmed (and maybe resolved) is not raised again.
    /// Their sensors count as heard at `now`: a fresh stale-numerics window, as the
    /// no-data rule gets at a takeover (the stored times are the devices' clocks).
    pub fn remember_vitals(&mut self, readings: &[VitalReading], now: Nanos) {
        let mut ordered: Vec<&VitalReading> = readings.iter().collect();
        ordered.sort_by_key(|r| r.time_ns);
        for r in ordered {
            self.vitals.note(r);
            self.vitals.clock.heard(r, now);
        }
    }

    /// NEWS2 after the last batch of numerics (None before the first).
    pub fn news2(&self) -> Option<&News2Assessment> {
        self.news2.as_ref()
    }

    /// What the numerics so far say (latest values, sensors off).
    pub fn vitals(&self) -> &VitalState {
        &self.vitals
    }

    /// Marks a rule as already firing (an open alert found in the store at start-up, with
    /// its stored episode), so it resolves instead of raising a duplicate and counts the
    /// next events on top of those already stored.
    pub fn adopt_open(&mut self, rule: RuleKind, episode: Episode) {
        self.rules.adopt_open(rule, Some(episode));
    }

    /// The rule's resolve could not be made durable: it is firing again, episode kept.
    pub fn keep_open(&mut self, rule: RuleKind) {
        self.rules.adopt_open(rule, None);
    }

    /// The rule's transition could not be made durable: forget it, so it fires again.
    pub fn reset_rule(&mut self, rule: RuleKind) {
        self.rules.reset(rule);
    }

    pub fn is_firing(&self, rule: RuleKind) -> bool {
        self.rules.is_firing(rule)
    }

    /// A new policy version. A removed rule forgets its state; the open alert, if any,
    /// stays for a person to acknowledge.
    pub fn set_policy(&mut self, policy: ThresholdPolicy) {
        self.rules.drop_removed(&policy);
        let average_changed = policy.hr_average_beats != self.policy.hr_average_beats;
        self.policy = policy;
        if average_changed {
            self.stream = None;
            self.geometry = None;
        }
    }

    pub fn policy(&self) -> &ThresholdPolicy {
        &self.policy
    }

    pub fn last_reading(&self) -> Option<HrReading> {
        self.last_reading
    }

    /// The readings of the last block processed, each with its beat's sample time.
    pub fn beats(&self) -> &[(Nanos, HrReading)] {
        &self.beats
    }

    /// Learning (not enough clean signal since the stream started for physiological
    /// alarms) or analysing.
    pub fn analysis_state(&self) -> AnalysisState {
        self.stream
            .as_ref()
            .map_or(AnalysisState::Learning, |s| s.learning.state())
    }

    /// What live views should be told after the last block: the state when it changed,
    /// and `Learning` once per quality window while learning (so a view opened meanwhile
    /// hears it too); None otherwise.
    pub fn analysis_news(&self) -> Option<(Nanos, AnalysisState)> {
        self.analysis_news
    }

    /// Heart-rate readings so far (one per beat after the first).
    pub fn readings(&self) -> u64 {
        self.readings
    }

    /// Wall-clock check for the no-data rule: `silent_s` since the gateway's last block.
    pub fn on_clock(&mut self, now_ns: Nanos, silent_s: f64) -> Vec<RuleEvent> {
        let mut events = Vec::new();
        self.rules
            .on_clock(&self.policy, now_ns, silent_s, &mut events);
        events
    }

    /// Seconds the noise gate has held the physiological rules in the current stream
    /// (since its last restart; docs/clinical-performance.md, "Noise").
    pub fn noise_held_s(&self) -> f64 {
        self.stream.as_ref().map_or(0.0, |s| s.gate.held_s())
    }

    /// Feeds one block; returns rule events in time order.
    pub fn process(&mut self, block: &SampleBlock) -> Vec<RuleEvent> {
        let geometry = Geometry {
            rate_hz: block.rate_hz,
            leads: block.leads,
        };
        let frame_ns = NANOS_PER_SEC / i64::from(block.rate_hz.max(1));
        let contiguous = (block.start_ns - self.next_ns).abs() <= frame_ns;
        if self.geometry != Some(geometry) || !contiguous || self.stream.is_none() {
            self.restart(geometry, block.start_ns);
        }
        self.beats.clear();
        self.analysis_news = None;
        let mut events = Vec::new();
        let Some(stream) = self.stream.as_mut() else {
            return events;
        };
        let policy = &self.policy;
        let time_of =
            |origin: Nanos, sample: u64| origin + (sample as f64 * 1e9 / stream.fs) as Nanos;
        let tachy = policy.tachy_run.as_ref().map(|r| r.bpm);
        let brady = policy.brady_run.as_ref().map(|r| r.bpm);
        for i in 0..block.frames() {
            let frame = block.frame(i);
            stream.learning.on_frame(frame);
            stream.fast.on_frame(frame);
            let now_sample = stream.frames;
            stream.frames += 1;
            let detected = stream.detector.push(frame);
            if let Some(classified) = stream.classifier.push(frame, detected) {
                let carried = stream.clean_lead_carries;
                let (beat, noise) = (classified.sample, classified.noise);
                stream.gate.on_beat(now_sample, beat, noise, carried);
                let noisy = stream.gate.holds(now_sample);
                // A "ventricular" beat in noise is not one unless it is clean itself.
                let ventricular = counts_as_ventricular(classified.class, classified.noise, noisy);
                let noise = classified.noise;
                let ended = stream
                    .ventricular
                    .on_beat(classified.sample, ventricular, noise);
                // Ventricular rules are physiological: held while learning too.
                // …and while the noise gate holds them (`noise_gate.rs`).
                let analysable = stream.analysable && stream.learning.is_done() && !noisy;
                // No ectopy pattern spans a beat the analysis could not judge.
                // A V call on a beat as noisy as the gate's level is not trusted either
                // (docs/clinical-performance.md, "VT noise rejection").
                let trusted_v = classified.noise < NOISY_BEAT;
                let kind = match classified.class {
                    BeatClass::V if analysable && trusted_v => Kind::Ventricular,
                    BeatClass::N | BeatClass::S if analysable => Kind::Conducted,
                    _ => Kind::Unknown,
                };
                stream.ectopy.on_beat(classified.sample, kind, stream.fs);
                // The interval from the last classified beat is trusted as an RR interval
                // from a detected beat is (below).
                let af_trusted = analysable
                    && stream.af.last_beat().is_some_and(|previous| {
                        stream.analysable_since.is_some_and(|s| s <= previous)
                            && stream.gate.clear_since(previous)
                    });
                stream
                    .af
                    .on_beat(classified.sample, classified.class, af_trusted, stream.fs);
                let facts = ClassFacts {
                    analysable,
                    sample: classified.sample,
                    fs: stream.fs,
                    ended,
                    af_trusted,
                    fast_vt: stream.fast_vt.is_some(),
                };
                let at = time_of(self.origin_ns, now_sample);
                self.rules.on_classified(
                    policy,
                    at,
                    &facts,
                    &mut stream.ventricular,
                    &stream.ectopy,
                    &stream.af,
                    &mut events,
                );
            }
            if let Some(beat) = detected {
                stream.last_beat = Some(beat.sample);
                stream.fast.on_beat(beat.sample);
                if stream.analysable {
                    stream.learning.on_beat();
                }
                if let Some(mut reading) = stream.heart_rate.on_beat(beat) {
                    if let Some(bpm) = stream.rate.on_rr(reading.rr_s) {
                        reading.average_bpm = bpm;
                    }
                    self.last_reading = Some(reading);
                    self.readings += 1;
                    // Only an interval seen over analysable signal from end to end is
                    // trusted: beats missed in noise must not become a pause or AF.
                    let previous = reading
                        .sample
                        .saturating_sub((reading.rr_s * stream.fs).round() as u64);
                    // Nor is one before the analysis has learned the signal (detector
                    // levels, first beats possibly missed).
                    // Nor one with noise over it or lately (`noise_gate.rs`).
                    let trusted = stream.analysable
                        && stream.learning.is_done()
                        && stream.analysable_since.is_some_and(|s| s <= previous)
                        && stream.gate.clear_since(previous);
                    // Nor, for the rate-only runs, one from a beat the classifier found
                    // noisy (`NoiseGate::noisy_beat_since`).
                    if trusted && !stream.gate.noisy_beat_since(previous) {
                        stream.rhythm.on_rr(reading.instant_bpm, tachy, brady);
                    } else {
                        stream.rhythm.interrupt();
                    }
                    let at = time_of(self.origin_ns, reading.sample);
                    self.beats.push((at, reading));
                    let activity = stream.detector.continuous_activity();
                    let rhythm = &stream.rhythm;
                    self.rules.on_beat(
                        policy,
                        at,
                        &reading,
                        rhythm,
                        trusted,
                        activity,
                        &mut events,
                    );
                }
            }
            let Some(window) = stream.quality.push(frame) else {
                continue;
            };
            let analysable = !block.lead_off && window.analysable();
            let window_start = (window.end_sample + 1).saturating_sub(stream.fs.round() as u64);
            stream.analysable_since = match (analysable, stream.analysable_since) {
                (false, _) => None,
                (true, None) => Some(window_start),
                (true, since) => since,
            };
            stream.analysable = analysable;
            stream
                .gate
                .on_window(window.end_sample, window.noise_blind());
            stream.clean_lead_carries = window.calm_lead_beside_noise();
            let was = stream.learning.state();
            stream.learning.on_window(analysable, 1.0);
            let state = stream.learning.state();
            let at = time_of(self.origin_ns, window.end_sample);
            if state != was || state == AnalysisState::Learning {
                self.analysis_news = Some((at, state));
            }
            // Beats are reported late (300 ms, longer while a search-back candidate is
            // pending): silence is only what the detector has finished looking at.
            // While learning the detector may not have found the beats yet, so silence is
            // judged on the raw signal: no QRS energy on any lead (`learning.rs`).
            let learned = stream.learning.is_done();
            // Until the detector's first beat, silence is counted from the last QRS
            // energy seen while learning (a detector still looking is not asystole).
            let silent_s = stream.analysable_since.map(|since| {
                if !learned {
                    return stream
                        .learning
                        .without_qrs_energy_s(since, window.end_sample);
                }
                let decided = stream.detector.reported_until().min(window.end_sample);
                match stream.last_beat {
                    Some(beat) => decided.saturating_sub(beat.max(since)) as f64 / stream.fs,
                    None => stream.learning.without_qrs_energy_s(since, decided),
                }
            });
            let noise_hold = stream.gate.holds(window.end_sample);
            let flutter = stream.detector.flutter();
            // Judged where the VF path would be; in flutter it tells VT from VF/VFL.
            let judged = analysable && learned && !noise_hold && !window.turning_everywhere();
            stream.fast_vt = policy.vt.as_ref().and_then(|vt| {
                let unreported = stream.detector.continuous_activity();
                let end = window.end_sample;
                stream
                    .fast
                    .on_window(end, judged, (unreported, flutter), vt.bpm)
            });
            // A flutter flag over a regular rhythm at a VT rate is VT, not VF/VFL.
            let flutter = flutter && !(policy.vt.is_some() && stream.fast.vt_in_flutter());
            let facts = WindowFacts {
                at,
                learning: !learned,
                quality: &window,
                lead_off: block.lead_off,
                silent_s,
                flutter,
                continuous_activity: stream.detector.continuous_activity(),
                noise_hold,
                fast_vt: stream.fast_vt,
            };
            self.rules.on_window(policy, &facts, &mut events);
        }
        self.next_ns = block.end_ns();
        events
    }

    /// A gap or a new stream geometry: beats before it cannot be joined to beats after.
    fn restart(&mut self, geometry: Geometry, start_ns: Nanos) {
        let fs = f64::from(geometry.rate_hz.max(1));
        let leads = usize::from(geometry.leads);
        self.stream = Some(Stream {
            detector: QrsDetector::new(fs, leads),
            classifier: BeatClassifier::new(fs, leads),
            ventricular: VentricularRuns::default(),
            ectopy: VentricularEctopy::default(),
            frames: 0,
            heart_rate: HeartRate::new(fs, 1),
            rate: RobustRate::new(usize::from(self.policy.hr_average_beats.max(1))),
            quality: SignalQuality::new(fs, leads),
            rhythm: Rhythm::default(),
            af: AfRhythm::default(),
            learning: Learning::new(fs, leads),
            gate: NoiseGate::new(fs),
            clean_lead_carries: false,
            fs,
            last_beat: None,
            analysable_since: None,
            analysable: true,
            fast: FastVentricularActivity::new(fs, leads),
            fast_vt: None,
        });
        self.geometry = Some(geometry);
        self.origin_ns = start_ns;
        self.next_ns = start_ns;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::rules::{AsystoleRule, ConditionRule, PauseRule, RunRule};
    use cw_core::{DeviceId, HrLimit, PatientId, Priority};

    const FS: u32 = 250;

    /// A synthetic ECG: a sharp 1.5 mV spike every `60/bpm` s on a flat line.
    fn synthetic(bpm: f64, seconds: f64, start_ns: Nanos) -> Vec<SampleBlock> {
        let period = f64::from(FS) * 60.0 / bpm;
        let n = (seconds * f64::from(FS)) as usize;
        let beats: Vec<f64> = (0..)
            .map(|k| f64::from(k) * period)
            .take_while(|b| *b < n as f64)
            .collect();
        blocks(&spikes(&beats, n), start_ns)
    }

    /// Spikes at the given sample positions on a baseline with 100 µV of slow wander, as a
    /// real (asystolic or not) ECG has: not a digitally flat line.
    fn spikes(at: &[f64], n: usize) -> Vec<i16> {
        let mut x: Vec<i16> = (0..n)
            .map(|i| (50.0 * (i as f64 / f64::from(FS) * 3.0).sin()) as i16)
            .collect();
        for &b in at {
            for k in 0..3 {
                if let Some(s) = x.get_mut(b as usize + k) {
                    *s += 1500 - (k as i16) * 400;
                }
            }
        }
        x
    }

    fn blocks(samples: &[i16], start_ns: Nanos) -> Vec<SampleBlock> {
        samples
            .chunks(FS as usize / 4)
            .enumerate()
            .map(|(k, chunk)| SampleBlock {
                patient: PatientId::parse("p").expect("valid"),
                device: DeviceId::parse("d").expect("valid"),
                seq: k as u64,
                start_ns: start_ns + (k as i64) * NANOS_PER_SEC / 4,
                rate_hz: FS,
                leads: 1,
                samples_uv: chunk.to_vec(),
                lead_off: false,
            })
            .collect()
    }

    fn policy_high(bpm: f32) -> ThresholdPolicy {
        ThresholdPolicy {
            hr_high: Some(HrLimit {
                bpm,
                priority: Priority::High,
                for_s: 2.0,
                hysteresis_bpm: 5.0,
                clear_s: 5.0,
            }),
            ..ThresholdPolicy::empty(PatientId::parse("p").expect("valid"))
        }
    }

    fn run_all(monitor: &mut PatientMonitor, blocks: &[SampleBlock]) -> Vec<RuleEvent> {
        blocks.iter().flat_map(|b| monitor.process(b)).collect()
    }

    fn fired(events: &[RuleEvent], rule: RuleKind) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, RuleEvent::Fire { rule: r, .. } if *r == rule))
            .count()
    }

    fn resolved(events: &[RuleEvent], rule: RuleKind) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, RuleEvent::Resolve { rule: r, .. } if *r == rule))
            .count()
    }

    fn condition(priority: Priority) -> Option<ConditionRule> {
        Some(ConditionRule {
            priority,
            for_s: 2.0,
            clear_s: 5.0,
        })
    }

    /// Every rhythm and technical rule on, with bedside-like settings.
    fn full_policy() -> ThresholdPolicy {
        ThresholdPolicy {
            pause: Some(PauseRule {
                rr_s: 2.5,
                priority: Priority::Medium,
                clear_s: 5.0,
            }),
            asystole: Some(AsystoleRule {
                after_s: 4.0,
                priority: Priority::High,
                clear_s: 3.0,
            }),
            tachy_run: Some(RunRule {
                bpm: 130.0,
                beats: 4,
                priority: Priority::Medium,
                clear_s: 5.0,
            }),
            brady_run: Some(RunRule {
                bpm: 40.0,
                beats: 4,
                priority: Priority::Medium,
                clear_s: 5.0,
            }),
            vf: condition(Priority::High),
            lead_off: condition(Priority::Low),
            flat_line: condition(Priority::Low),
            saturation: condition(Priority::Low),
            noise: condition(Priority::Low),
            ..policy_high(150.0)
        }
    }

    #[test]
    fn asystole_fires_over_a_quiet_but_live_baseline_and_resolves_when_beats_return() {
        let fs = f64::from(FS);
        // 20 s at 75 bpm, 8 s without a beat, 20 s at 75 bpm again.
        let beats: Vec<f64> = (0..25)
            .map(|k| f64::from(k) * 0.8 * fs)
            .chain((0..25).map(|k| (28.0 + f64::from(k) * 0.8) * fs))
            .collect();
        let mut monitor = PatientMonitor::new(full_policy());
        let events = run_all(&mut monitor, &blocks(&spikes(&beats, 48 * FS as usize), 0));
        assert_eq!(fired(&events, RuleKind::Asystole), 1, "{events:?}");
        assert_eq!(resolved(&events, RuleKind::Asystole), 1, "{events:?}");
        assert_eq!(fired(&events, RuleKind::FlatLine), 0, "{events:?}");
        // The 8 s gap is also a pause, reported at the beat that ends it.
        assert_eq!(fired(&events, RuleKind::Pause), 1, "{events:?}");
    }

    #[test]
    fn asystole_is_raised_within_a_second_of_its_limit_not_after_the_detectors_worst_case_look_ahead()
     {
        let fs = f64::from(FS);
        // Beats every 0.8 s until 19.2 s, then none: with a 4 s limit, asystole is due at 23.2 s.
        let beats: Vec<f64> = (0..25).map(|k| f64::from(k) * 0.8 * fs).collect();
        let mut monitor = PatientMonitor::new(full_policy());
        let events = run_all(&mut monitor, &blocks(&spikes(&beats, 30 * FS as usize), 0));
        let at_s = events
            .iter()
            .find_map(|e| match e {
                RuleEvent::Fire {
                    rule: RuleKind::Asystole,
                    at,
                    ..
                } => Some(*at as f64 / 1e9),
                _ => None,
            })
            .expect("asystole raised");
        // Quality windows are 1 s long and a beat is final 300 ms after it: 23.2 s + 1.3 s.
        assert!(
            (23.2..=24.5).contains(&at_s),
            "asystole raised at {at_s:.2} s"
        );
    }

    /// When the monitor told live views it stopped learning (seconds), if it did.
    fn learned_at(
        monitor: &mut PatientMonitor,
        blocks: &[SampleBlock],
    ) -> (Vec<RuleEvent>, Option<f64>) {
        let mut learned = None;
        let mut events = Vec::new();
        for b in blocks {
            events.extend(monitor.process(b));
            if let Some((at, AnalysisState::Analysing)) = monitor.analysis_news() {
                learned.get_or_insert(at as f64 / 1e9);
            }
        }
        (events, learned)
    }

    #[test]
    fn asystole_from_the_first_second_is_raised_at_its_limit_while_learning() {
        // The patch goes on an asystolic patient: a live baseline, no beat at all.
        let mut monitor = PatientMonitor::new(full_policy());
        assert_eq!(monitor.analysis_state(), AnalysisState::Learning);
        let (events, learned) =
            learned_at(&mut monitor, &blocks(&spikes(&[], 20 * FS as usize), 0));
        let at: Vec<f64> = events
            .iter()
            .filter_map(|e| match e {
                RuleEvent::Fire {
                    rule: RuleKind::Asystole,
                    at,
                    ..
                } => Some(*at as f64 / 1e9),
                _ => None,
            })
            .collect();
        assert_eq!(at.len(), 1, "{events:?}");
        // 4 s limit, judged on 1 s quality windows.
        assert!((4.0..=5.5).contains(&at[0]), "asystole at {at:?}");
        let learned = learned.expect("learning ends");
        assert!(
            (9.9..=10.0).contains(&learned),
            "learning ends at its 10 s cap: {learned}"
        );
        assert_eq!(
            fired(&events, RuleKind::Asystole),
            1,
            "stays open, no flapping: {events:?}"
        );
    }

    #[test]
    fn a_fast_rhythm_from_the_first_second_fires_only_after_learning() {
        let mut monitor = PatientMonitor::new(full_policy());
        let (events, learned) = learned_at(&mut monitor, &synthetic(160.0, 30.0, 0));
        let learned = learned.expect("learning ends");
        assert!(learned <= 10.0, "learned at {learned}");
        assert_eq!(monitor.analysis_state(), AnalysisState::Analysing);
        let first = events
            .iter()
            .find_map(|e| match e {
                RuleEvent::Fire { at, .. } => Some(*at as f64 / 1e9),
                _ => None,
            })
            .expect("hr_high fires");
        assert!(
            first >= learned,
            "fired at {first} s, learning ended at {learned} s"
        );
        assert_eq!(fired(&events, RuleKind::HrHigh), 1, "{events:?}");
        assert_eq!(fired(&events, RuleKind::Asystole), 0, "{events:?}");
    }

    #[test]
    fn pauses_inside_an_open_pause_alert_are_each_counted_and_the_longest_kept() {
        let fs = f64::from(FS);
        // 15 s of 75 bpm, then five pauses of 3.0–3.6 s, two normal beats apart (the
        // pause alert's 5 s clear time never passes), then 75 bpm again.
        let mut beats: Vec<f64> = (0..20).map(|k| f64::from(k) * 0.8).collect();
        let mut t = *beats.last().expect("beats");
        for pause in [3.0, 3.2, 3.6, 3.1, 3.3] {
            t += pause;
            beats.push(t);
            for _ in 0..2 {
                t += 0.8;
                beats.push(t);
            }
        }
        for _ in 0..20 {
            t += 0.8;
            beats.push(t);
        }
        let samples = spikes(
            &beats.iter().map(|b| b * fs).collect::<Vec<_>>(),
            ((t + 1.0) * fs) as usize,
        );
        let mut monitor = PatientMonitor::new(full_policy());
        let events = run_all(&mut monitor, &blocks(&samples, 0));
        assert_eq!(fired(&events, RuleKind::Pause), 1, "{events:?}");
        assert_eq!(fired(&events, RuleKind::Asystole), 0, "{events:?}");
        let last = events
            .iter()
            .rev()
            .find_map(|e| match e {
                RuleEvent::Episode {
                    rule: RuleKind::Pause,
                    episode,
                    ..
                } => Some(*episode),
                _ => None,
            })
            .expect("episode recorded");
        assert_eq!(last.count, 5, "{last:?}");
        assert!((last.worst - 3.6).abs() < 0.05, "{last:?}");
    }

    #[test]
    fn a_pause_shorter_than_the_asystole_limit_is_only_a_pause() {
        let fs = f64::from(FS);
        let beats: Vec<f64> = (0..20)
            .map(|k| f64::from(k) * 0.8 * fs)
            .chain((0..20).map(|k| (18.2 + f64::from(k) * 0.8) * fs))
            .collect();
        let mut monitor = PatientMonitor::new(full_policy());
        let events = run_all(&mut monitor, &blocks(&spikes(&beats, 34 * FS as usize), 0));
        assert_eq!(fired(&events, RuleKind::Pause), 1, "{events:?}");
        assert_eq!(fired(&events, RuleKind::Asystole), 0, "{events:?}");
    }

    #[test]
    fn a_digitally_flat_line_is_a_technical_alarm_never_asystole() {
        let mut samples = spikes(
            &(0..25).map(|k| f64::from(k * 200)).collect::<Vec<_>>(),
            20 * FS as usize,
        );
        samples.extend(std::iter::repeat_n(7i16, 15 * FS as usize));
        let mut monitor = PatientMonitor::new(full_policy());
        let events = run_all(&mut monitor, &blocks(&samples, 0));
        assert_eq!(fired(&events, RuleKind::FlatLine), 1, "{events:?}");
        assert_eq!(fired(&events, RuleKind::Asystole), 0, "{events:?}");
    }

    #[test]
    fn lead_off_from_the_gateway_is_a_technical_alarm_never_asystole() {
        let fs = f64::from(FS);
        let beats: Vec<f64> = (0..25).map(|k| f64::from(k) * 0.8 * fs).collect();
        let mut blocks = blocks(&spikes(&beats, 40 * FS as usize), 0);
        // After 20 s the electrode comes off: the gateway flags it, the signal is baseline.
        for b in blocks.iter_mut().skip(80) {
            b.lead_off = true;
        }
        let mut monitor = PatientMonitor::new(full_policy());
        let events = run_all(&mut monitor, &blocks);
        assert_eq!(fired(&events, RuleKind::LeadOff), 1, "{events:?}");
        assert_eq!(fired(&events, RuleKind::Asystole), 0, "{events:?}");
    }

    #[test]
    fn a_tachy_run_fires_and_a_steady_rhythm_does_not() {
        let fs = f64::from(FS);
        // 70 bpm, then 6 beats at 160 bpm, then 70 bpm.
        let mut beats: Vec<f64> = (0..12).map(|k| f64::from(k) * 60.0 / 70.0 * fs).collect();
        let mut t = *beats.last().expect("beats");
        for _ in 0..6 {
            t += 60.0 / 160.0 * fs;
            beats.push(t);
        }
        for _ in 0..20 {
            t += 60.0 / 70.0 * fs;
            beats.push(t);
        }
        let mut monitor = PatientMonitor::new(full_policy());
        let events = run_all(&mut monitor, &blocks(&spikes(&beats, 40 * FS as usize), 0));
        assert_eq!(fired(&events, RuleKind::TachyRun), 1, "{events:?}");
        assert_eq!(resolved(&events, RuleKind::TachyRun), 1, "{events:?}");
        let mut steady = PatientMonitor::new(full_policy());
        let events = run_all(&mut steady, &synthetic(70.0, 40.0, 0));
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn no_data_fires_on_the_wall_clock_and_resolves_when_data_returns() {
        let mut policy = full_policy();
        policy.no_data = Some(cw_core::rules::NoDataRule {
            after_s: 10.0,
            priority: Priority::Low,
            clear_s: 0.0,
        });
        let mut monitor = PatientMonitor::new(policy);
        let s = NANOS_PER_SEC;
        assert!(monitor.on_clock(5 * s, 5.0).is_empty());
        let fired_events = monitor.on_clock(11 * s, 11.0);
        assert_eq!(fired(&fired_events, RuleKind::NoData), 1);
        assert!(monitor.on_clock(12 * s, 12.0).is_empty(), "fires once");
        let back = monitor.on_clock(13 * s, 0.0);
        assert_eq!(resolved(&back, RuleKind::NoData), 1);
    }

    #[test]
    fn alerts_carry_the_priority_and_limit_of_their_rule() {
        let p = full_policy();
        assert_eq!(p.priority_of(RuleKind::Asystole), Priority::High);
        assert_eq!(p.priority_of(RuleKind::Noise), Priority::Low);
        assert!(RuleKind::Noise.is_technical() && !RuleKind::Asystole.is_technical());
        assert_eq!(p.limit_of(RuleKind::Asystole), 4.0);
        let _ = HrLimit::clone(p.hr_high.as_ref().expect("hr_high"));
    }

    #[test]
    fn a_rate_flapping_around_the_limit_collapses_into_one_open_alert() {
        let fs = f64::from(FS);
        // 12 s at 130 bpm, 12 s at 70 bpm, ten times over: ten episodes without collapse.
        let mut beats = Vec::new();
        let mut t = 0.0;
        for cycle in 0..20 {
            let rr = if cycle % 2 == 0 {
                60.0 / 130.0
            } else {
                60.0 / 70.0
            };
            let end = f64::from(cycle + 1) * 12.0;
            while t < end {
                beats.push(t * fs);
                t += rr;
            }
        }
        let mut policy = policy_high(100.0);
        policy.hr_average_beats = 4;
        policy.flapping.fires = 3;
        let mut monitor = PatientMonitor::new(policy);
        let events = run_all(&mut monitor, &blocks(&spikes(&beats, 240 * FS as usize), 0));
        assert_eq!(fired(&events, RuleKind::HrHigh), 3, "{events:?}");
        assert_eq!(resolved(&events, RuleKind::HrHigh), 2, "{events:?}");
        assert!(
            monitor.is_firing(RuleKind::HrHigh),
            "held open while flapping"
        );
        // The held alert hides nothing: its own fast spell and the 7 after it (cycles 6,
        // 8, …, 18) are each one event.
        let held = events.iter().rev().find_map(|e| match e {
            RuleEvent::Episode { episode, .. } => Some(*episode),
            _ => None,
        });
        assert_eq!(held.map(|e| e.count), Some(8), "{events:?}");
    }

    #[test]
    fn a_fast_rhythm_fires_hr_high_once() {
        let mut monitor = PatientMonitor::new(policy_high(100.0));
        let events: Vec<_> = synthetic(130.0, 30.0, 0)
            .iter()
            .flat_map(|b| monitor.process(b))
            .collect();
        let fires = events
            .iter()
            .filter(|e| matches!(e, RuleEvent::Fire { .. }))
            .count();
        assert_eq!(fires, 1, "{events:?}");
        let reading = monitor.last_reading().expect("heart rate measured");
        assert!((reading.average_bpm - 130.0).abs() < 3.0, "{reading:?}");
    }

    /// Beat positions (samples) at `bpm` for `seconds`, with `edit` applied to the list.
    fn rhythm(bpm: f64, seconds: f64, edit: impl FnOnce(&mut Vec<f64>)) -> Vec<f64> {
        let rr = 60.0 / bpm * f64::from(FS);
        let mut beats: Vec<f64> = (0..)
            .map(|k| 0.5 * f64::from(FS) + f64::from(k) * rr)
            .take_while(|b| *b < seconds * f64::from(FS))
            .collect();
        edit(&mut beats);
        beats
    }

    fn hr_policy(high: f32, low: f32) -> ThresholdPolicy {
        let limit = |bpm| HrLimit {
            bpm,
            priority: Priority::High,
            for_s: 0.0,
            hysteresis_bpm: 5.0,
            clear_s: 5.0,
        };
        ThresholdPolicy {
            hr_high: Some(limit(high)),
            hr_low: Some(limit(low)),
            ..ThresholdPolicy::empty(PatientId::parse("p").expect("valid"))
        }
    }

    #[test]
    fn one_premature_beat_does_not_trip_hr_high_with_no_onset_delay() {
        // 95 bpm under a 100 bpm limit with `for` = 0; beat 20 comes 0.28 s early with a
        // full compensatory pause after it. A plain 8-beat mean reads 100.6 bpm there.
        let fs = f64::from(FS);
        let beats = rhythm(95.0, 40.0, |b| b[20] -= 0.28 * fs);
        let mut monitor = PatientMonitor::new(hr_policy(100.0, 40.0));
        assert_eq!(monitor.policy().hr_average_beats, 8, "the default window");
        let events = run_all(&mut monitor, &blocks(&spikes(&beats, 40 * FS as usize), 0));
        assert!(events.is_empty(), "{events:?}");
        let reading = monitor.last_reading().expect("heart rate measured");
        assert!((reading.average_bpm - 95.0).abs() < 1.0, "{reading:?}");
    }

    #[test]
    fn one_missed_beat_does_not_trip_hr_low_with_no_onset_delay() {
        // 55 bpm over a 50 bpm limit; the detector misses beat 20 (a 2.2 s interval). A
        // plain 8-beat mean reads 48.9 bpm there.
        let beats = rhythm(55.0, 40.0, |b| {
            b.remove(20);
        });
        let mut monitor = PatientMonitor::new(hr_policy(150.0, 50.0));
        let events = run_all(&mut monitor, &blocks(&spikes(&beats, 40 * FS as usize), 0));
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn a_step_from_80_to_120_bpm_fires_hr_high_on_the_fifth_fast_beat() {
        let fs = f64::from(FS);
        // The last 80 bpm beat at 20 s, then 120 bpm.
        let mut beats: Vec<f64> = (0..=24).map(|k| (2.0 + f64::from(k) * 0.75) * fs).collect();
        beats.extend((1..20).map(|k| (20.0 + f64::from(k) * 0.5) * fs));
        let mut monitor = PatientMonitor::new(hr_policy(100.0, 40.0));
        let events = run_all(&mut monitor, &blocks(&spikes(&beats, 31 * FS as usize), 0));
        let at: Vec<f64> = events
            .iter()
            .filter_map(|e| match e {
                RuleEvent::Fire { at, .. } => Some(*at as f64 / 1e9),
                _ => None,
            })
            .collect();
        assert_eq!(at.len(), 1, "{events:?}");
        assert!((at[0] - 22.5).abs() < 0.05, "fired at {at:?}");
    }

    #[test]
    fn a_normal_rhythm_never_fires() {
        let mut monitor = PatientMonitor::new(policy_high(100.0));
        let events: Vec<_> = synthetic(70.0, 30.0, 0)
            .iter()
            .flat_map(|b| monitor.process(b))
            .collect();
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn an_adopted_open_alert_resolves_when_the_rate_settles() {
        let mut monitor = PatientMonitor::new(policy_high(100.0));
        monitor.adopt_open(RuleKind::HrHigh, Episode::default());
        let events: Vec<_> = synthetic(70.0, 30.0, 0)
            .iter()
            .flat_map(|b| monitor.process(b))
            .collect();
        assert!(
            matches!(
                events.as_slice(),
                [RuleEvent::Resolve {
                    rule: RuleKind::HrHigh,
                    ..
                }]
            ),
            "{events:?}"
        );
    }
}
