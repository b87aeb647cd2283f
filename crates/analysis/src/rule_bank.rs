//! Every rule of a patient's policy as one lifecycle state machine each, and the mapping
//! from what the monitor measured (beats, RR, quality windows, silence) to each rule's
//! condition. Physiological rules are held (neither fire nor clear) while the signal is
//! not analysable; technical rules say why.

use crate::af::{AfJudgement, AfRhythm};
use crate::condition_state::{ConditionState, Transition};
use crate::fast_activity::FastActivity;
use crate::monitor::RuleEvent;
use crate::noise_gate::NOISY_BEAT;
use crate::rhythm::Rhythm;
use crate::ventricular::{Ended, VentricularRuns};
use crate::ventricular_ectopy::VentricularEctopy;
use cw_core::rules::VtRule;
use cw_core::time::Nanos;
use cw_core::{Episode, RuleKind, ThresholdPolicy};
use cw_detect::{HrReading, LeadQuality, QualityWindow};

/// AF clears once the irregularity is back under this fraction of the limit.
const AF_CLEAR_FRACTION: f32 = 0.75;

/// A rhythm is organised (it clears VF) while a beat came within this many seconds: a
/// longer gap is a pause (the default pause limit), not a rhythm.
const ORGANISED_SILENCE_S: f64 = 3.0;

/// What one quality window tells the rules.
pub struct WindowFacts<'a> {
    pub at: Nanos,
    pub quality: &'a QualityWindow,
    pub lead_off: bool,
    /// The analysis is still learning the signal: physiological rules other than asystole
    /// are held, and `silent_s` is time without QRS energy rather than without a beat.
    pub learning: bool,
    /// Seconds without a beat over analysable signal (None: some of it was unanalysable).
    pub silent_s: Option<f64>,
    /// The detector's VF/VFL flag, unless the signal's own rhythm there is VT
    /// (`fast_activity.rs`: regular, no faster than ventricular flutter).
    pub flutter: bool,
    /// Fast activity the detector does not report as beats (flutter waves, fibrillation,
    /// or noise on a lead that still shows complexes): not silence, whether VF or not.
    pub continuous_activity: bool,
    /// Noise was seen lately (`noise_gate.rs`): the physiological rules noise fakes are
    /// held (VF here, the others at their beats) and the technical noise alarm speaks.
    pub noise_hold: bool,
    /// Fast regular activity the detector under-counts, at the VT rate or faster
    /// (`fast_activity.rs`): VT the beat runs cannot show.
    pub fast_vt: Option<FastActivity>,
}

/// One classified beat, for the ventricular rules.
pub struct ClassFacts {
    /// The signal was analysable when the class was decided.
    pub analysable: bool,
    pub sample: u64,
    pub fs: f64,
    /// The run of V beats this beat ended, if it ended one.
    pub ended: Option<Ended>,
    /// The interval from the beat classified before this one is trusted for AF.
    pub af_trusted: bool,
    /// The latest window found VT from the signal's rhythm (`fast_activity.rs`): the few
    /// beats the detector finds in it do not end the VT.
    pub fast_vt: bool,
}

/// The ventricular-ectopy rules: lower priority than VT, judged on every classified beat.
const ECTOPY_RULES: [RuleKind; 5] = [
    RuleKind::Nsvt,
    RuleKind::Couplet,
    RuleKind::Bigeminy,
    RuleKind::Trigeminy,
    RuleKind::PvcPerMinute,
];

#[derive(Clone, Debug)]
pub struct RuleBank {
    states: [ConditionState; RuleKind::ALL.len()],
}

// By hand: `Default` is derived for arrays of at most 32 elements, and there are more
// rules than that.
impl Default for RuleBank {
    fn default() -> Self {
        Self {
            states: std::array::from_fn(|_| ConditionState::default()),
        }
    }
}

fn index(rule: RuleKind) -> usize {
    RuleKind::ALL
        .iter()
        .position(|r| *r == rule)
        .unwrap_or_default()
}

impl RuleBank {
    /// Marks `rule` firing with `episode` so far (None: the episode it had, for an alert
    /// whose resolve could not be stored).
    pub fn adopt_open(&mut self, rule: RuleKind, episode: Option<Episode>) {
        let state = &mut self.states[index(rule)];
        *state = ConditionState::firing(episode.unwrap_or(state.episode()));
    }

    pub fn reset(&mut self, rule: RuleKind) {
        self.states[index(rule)].reset();
    }

    pub fn is_firing(&self, rule: RuleKind) -> bool {
        self.states[index(rule)].is_firing()
    }

    /// Rules the new policy no longer has forget their state (the open alert, if any,
    /// stays for a person to acknowledge).
    pub fn drop_removed(&mut self, policy: &ThresholdPolicy) {
        for rule in RuleKind::ALL {
            if policy.rule(rule).is_none() {
                self.reset(rule);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn observe(
        &mut self,
        policy: &ThresholdPolicy,
        rule: RuleKind,
        at: Nanos,
        active: bool,
        clear: bool,
        value: f32,
        events: &mut Vec<RuleEvent>,
    ) {
        self.observe_timed(policy, rule, None, at, (active, clear), value, events);
    }

    /// [`Self::observe`] with the rule's timing replaced by `timing` when given (a cuff
    /// reading's, `vital_rules.rs`); `condition` is (active, clear).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn observe_timed(
        &mut self,
        policy: &ThresholdPolicy,
        rule: RuleKind,
        timing: Option<cw_core::rules::Timing>,
        at: Nanos,
        (active, clear): (bool, bool),
        value: f32,
        events: &mut Vec<RuleEvent>,
    ) {
        let Some(row) = policy.rule(rule) else {
            return;
        };
        let timing = timing.unwrap_or(row.timing);
        let state = &mut self.states[index(rule)];
        match state.observe(rule, timing, &policy.flapping, at, active, clear, value) {
            Some(Transition::Fire { started_ns, value }) => events.push(RuleEvent::Fire {
                rule,
                started_ns,
                at,
                value,
            }),
            Some(Transition::Episode(episode)) => {
                events.push(RuleEvent::Episode { rule, at, episode })
            }
            Some(Transition::Resolve) => {
                // The alert records its final worst value before it closes.
                if let Some(episode) = state.take_unreported() {
                    events.push(RuleEvent::Episode { rule, at, episode });
                }
                events.push(RuleEvent::Resolve { rule, at });
            }
            None => {}
        }
    }

    /// Holds a rule: neither crossing nor clear (pending restarts, firing stays open).
    pub(crate) fn hold(&mut self, policy: &ThresholdPolicy, rule: RuleKind, at: Nanos) {
        self.observe(policy, rule, at, false, false, 0.0, &mut Vec::new());
    }

    /// One beat with its heart-rate reading; `trusted` when its RR interval lies over
    /// analysable signal after the learning period (otherwise the rate rules are held);
    /// `continuous_activity` as in [`WindowFacts`] (a long RR in it is not asystole).
    #[allow(clippy::too_many_arguments)]
    pub fn on_beat(
        &mut self,
        policy: &ThresholdPolicy,
        at: Nanos,
        reading: &HrReading,
        rhythm: &Rhythm,
        trusted: bool,
        continuous_activity: bool,
        events: &mut Vec<RuleEvent>,
    ) {
        // A beat ends any asystole, whatever the quality. A silence the asystole rule saw
        // itself is already one of its events: the pause it ends is not another, but its
        // RR interval is the silence's true length (the rule saw it in 1 s windows).
        let asystole = &mut self.states[index(RuleKind::Asystole)];
        let silence_counted = asystole.in_event();
        if trusted {
            asystole.worsen(RuleKind::Asystole, reading.rr_s as f32);
        }
        self.observe(policy, RuleKind::Asystole, at, false, true, 0.0, events);
        // While the noise alarm sounds the rate and pause rules are held as over an
        // untrusted interval: the alarm outlasts the noise gate's hold by its clear time,
        // and in those seconds the detector has not recovered from the burst (extra or
        // missed beats make fast, slow and long intervals). The monitor says "noisy ECG"
        // instead (docs/clinical-performance.md, "Rate rules while the noise alarm
        // sounds"). Asystole is not held: noise is not silence.
        if !trusted || self.is_firing(RuleKind::Noise) {
            for rule in [
                RuleKind::HrHigh,
                RuleKind::HrLow,
                RuleKind::Pause,
                RuleKind::TachyRun,
                RuleKind::BradyRun,
            ] {
                self.hold(policy, rule, at);
            }
            return;
        }
        let bpm = reading.average_bpm;
        if let Some(l) = &policy.hr_high {
            let (active, clear) = (bpm > l.bpm, bpm < l.bpm - l.hysteresis_bpm);
            self.observe(policy, RuleKind::HrHigh, at, active, clear, bpm, events);
        }
        if let Some(l) = &policy.hr_low {
            let (active, clear) = (bpm < l.bpm, bpm > l.bpm + l.hysteresis_bpm);
            self.observe(policy, RuleKind::HrLow, at, active, clear, bpm, events);
        }
        if let Some(p) = &policy.pause {
            let rr = reading.rr_s as f32;
            let long = rr > p.rr_s;
            // While VF is alarmed a long RR is not a pause: the "beats" are complexes the
            // detector half-finds in fibrillation or flutter, and the gaps between them
            // are VF, already alarmed higher (as the AF rule holds; docs/
            // clinical-performance.md, "False clinical alarms by cause").
            if long && self.is_firing(RuleKind::VentricularFibrillation) {
                self.hold(policy, RuleKind::Pause, at);
            } else {
                self.observe(policy, RuleKind::Pause, at, long, !long, rr, events);
            }
            // As the asystole rule itself: activity the detector does not report as
            // beats (fibrillation, or noise on a lead that still shows complexes) means
            // beats may have been missed, not that there were none.
            if long && !continuous_activity && !silence_counted {
                self.escalate(policy, RuleKind::Pause, at, rr, events);
            }
        }
        let runs = [
            (RuleKind::TachyRun, &policy.tachy_run, rhythm.fast_run()),
            (RuleKind::BradyRun, &policy.brady_run, rhythm.slow_run()),
        ];
        for (rule, settings, run) in runs {
            if let Some(r) = settings {
                let active = run >= u32::from(r.beats);
                let bpm = reading.instant_bpm;
                self.observe(policy, rule, at, active, run == 0, bpm, events);
            }
        }
    }

    /// One beat whose class became final (classes trail beats by about one beat), with
    /// the ventricular run it ends or extends and the ectopy patterns it is part of; `at`
    /// is when the class was decided.
    #[allow(clippy::too_many_arguments)]
    pub fn on_classified(
        &mut self,
        policy: &ThresholdPolicy,
        at: Nanos,
        facts: &ClassFacts,
        runs: &mut VentricularRuns,
        ectopy: &VentricularEctopy,
        af: &AfRhythm,
        events: &mut Vec<RuleEvent>,
    ) {
        self.on_vt(policy, at, facts, runs, events);
        self.on_ectopy(policy, at, facts, ectopy, events);
        self.on_af(policy, at, facts.af_trusted, af, events);
    }

    /// Atrial fibrillation, judged on every classified beat over the intervals between
    /// conducted beats (`af.rs`); held over an untrusted interval, while frequent ectopy
    /// leaves too few conducted intervals to judge, and while a VF alert is open.
    fn on_af(
        &mut self,
        policy: &ThresholdPolicy,
        at: Nanos,
        trusted: bool,
        rhythm: &AfRhythm,
        events: &mut Vec<RuleEvent>,
    ) {
        let Some(af) = &policy.af else {
            return;
        };
        let rule = RuleKind::AtrialFibrillation;
        // While VF is alarmed the "beats" are fibrillation or flutter waves (or complexes
        // the detector half-finds in them): their irregularity is not AF.
        let fibrillation = self.is_firing(RuleKind::VentricularFibrillation);
        if !trusted || fibrillation {
            self.hold(policy, rule, at);
            return;
        }
        match rhythm.judge(usize::from(af.window_beats)) {
            AfJudgement::Filling => {}
            AfJudgement::Unjudgeable => self.hold(policy, rule, at),
            AfJudgement::Irregularity(irr) => {
                // An AF event begins only if the steady beats are irregular too (`af.rs`:
                // atrial premature beats called N); once begun it goes on and clears on
                // all conducted intervals, so the check cannot restart its onset time.
                let steady = || {
                    matches!(rhythm.judge_steady(usize::from(af.window_beats)),
                        AfJudgement::Irregularity(s) if s > af.irregularity)
                };
                let started = self.states[index(rule)].in_event();
                let (active, clear) = (
                    irr > af.irregularity && (started || steady()),
                    irr < af.irregularity * AF_CLEAR_FRACTION,
                );
                self.observe(policy, rule, at, active, clear, irr, events);
            }
        }
    }

    fn on_vt(
        &mut self,
        policy: &ThresholdPolicy,
        at: Nanos,
        facts: &ClassFacts,
        runs: &mut VentricularRuns,
        events: &mut Vec<RuleEvent>,
    ) {
        let vt_rules = [RuleKind::VentricularTachycardia, RuleKind::SustainedVt];
        let Some(vt) = &policy.vt else {
            return;
        };
        if !facts.analysable {
            for rule in vt_rules {
                self.hold(policy, rule, at);
            }
            return;
        }
        let run = runs.run(facts.fs);
        // A run whose beats are noisy on average (the noise gate's level) is not VT: muscle
        // noise on one lead makes wide "ventricular" beats there while the gate lets the
        // other, clean lead carry the rhythm (docs/clinical-performance.md, "VT noise
        // rejection").
        let clean = run.noise < NOISY_BEAT;
        let is_vt = run.beats >= u32::from(vt.beats) && run.bpm >= vt.bpm && clean;
        let episode_s = runs.episode_s(facts.sample, is_vt, facts.fs);
        // VT is over once no run of `vt.beats` V beats is in progress: an isolated PVC or
        // a couplet after it is not VT and must not hold the alert open (on mitdb 203 they
        // kept it open for minutes, and its later VT salvos were only counted inside it).
        // A run of enough V beats that has slowed under the rate is neither: the band in
        // which the alert neither restarts its event nor starts to clear.
        // Nor is it over while the signal's own rhythm is VT (`fast_activity.rs`).
        let over = run.beats < u32::from(vt.beats) && !facts.fast_vt;
        let rule = RuleKind::VentricularTachycardia;
        self.observe(policy, rule, at, is_vt, over, run.bpm, events);
        let sustained = is_vt && episode_s >= f64::from(vt.sustained_s);
        let value = episode_s as f32;
        let rule = RuleKind::SustainedVt;
        self.observe(policy, rule, at, sustained, over, value, events);
    }

    /// VT from the signal's own rhythm where the detector under-counts the beats
    /// (`fast_activity.rs`): raises VT, and sustained VT once it has lasted
    /// `sustained_s`. Its absence decides nothing: the beat path clears VT.
    fn on_fast_vt(
        &mut self,
        policy: &ThresholdPolicy,
        at: Nanos,
        fast: Option<FastActivity>,
        events: &mut Vec<RuleEvent>,
    ) {
        let (Some(vt), Some(fast)) = (&policy.vt, fast) else {
            return;
        };
        let rule = RuleKind::VentricularTachycardia;
        self.observe(policy, rule, at, true, false, fast.bpm, events);
        if fast.lasted_s >= f64::from(vt.sustained_s) {
            let value = fast.lasted_s as f32;
            let rule = RuleKind::SustainedVt;
            self.observe(policy, rule, at, true, false, value, events);
        }
    }

    /// A more severe event seen through a lesser rule (issue 12 item 5). Each rule has its
    /// own state machine, so an open pause alert never hides asystole: the asystole rule
    /// fires on the silence itself at its limit, before the pause has even ended. What a
    /// lesser rule adds is the event: a pause as long as the asystole limit while an
    /// asystole alert is open counts in that alert's episode, unless the silence rule saw
    /// that silence itself (then it is already counted). It does not raise asystole
    /// on its own: where the silence rule held back (beats possibly missed in activity it
    /// does not report, or search-back pending), the pause-ending beat proves nothing
    /// more — on mitdb 118/119 with 0 dB muscle noise that raised 6 false asystoles.
    /// The rhythm rules add their own escalations here (tachycardia → VT, a ventricular
    /// run → sustained VT) as they come.
    fn escalate(
        &mut self,
        policy: &ThresholdPolicy,
        seen: RuleKind,
        at: Nanos,
        value: f32,
        events: &mut Vec<RuleEvent>,
    ) {
        let severer = match seen {
            RuleKind::Pause => policy
                .asystole
                .as_ref()
                .filter(|a| value >= a.after_s && self.is_firing(RuleKind::Asystole))
                .map(|_| RuleKind::Asystole),
            _ => None,
        };
        if let Some(rule) = severer {
            // Active now: one more event of the open alert; the beats after it clear it.
            self.observe(policy, rule, at, true, false, value, events);
        }
    }

    /// Couplets, bigeminy, trigeminy, PVCs per minute and non-sustained runs; each
    /// event is its condition for one beat, so an alert resolves `clear_s` after the
    /// last one (docs/clinical-performance.md, "Ventricular ectopy rules").
    fn on_ectopy(
        &mut self,
        policy: &ThresholdPolicy,
        at: Nanos,
        facts: &ClassFacts,
        ectopy: &VentricularEctopy,
        events: &mut Vec<RuleEvent>,
    ) {
        if !facts.analysable {
            for rule in ECTOPY_RULES {
                self.hold(policy, rule, at);
            }
            return;
        }
        if let Some(r) = &policy.nsvt {
            // Non-sustained: ended before VT would have escalated to sustained VT.
            let sustained_s = policy
                .vt
                .as_ref()
                .map_or_else(|| VtRule::default().sustained_s, |vt| vt.sustained_s);
            // A noisy run is not a ventricular run, as for VT (`on_vt`).
            let run = facts.ended.filter(|e| {
                e.beats >= u32::from(r.beats)
                    && (e.span as f64 / facts.fs) < f64::from(sustained_s)
                    && e.noise < NOISY_BEAT
            });
            let value = run.map_or(0.0, |e| e.beats as f32);
            let active = run.is_some();
            self.observe(policy, RuleKind::Nsvt, at, active, !active, value, events);
        }
        // Couplets, bigeminy, trigeminy and PVCs per minute count single V calls, which
        // muscle noise fakes beat by beat below the noise gate's level: while the noise
        // alarm sounds they are held, as a bedside monitor suspends its ectopy counts on a
        // noisy ECG (docs/clinical-performance.md, "Ventricular ectopy while the noise
        // alarm sounds"). A run (NSVT, VT) has its own noise test (`on_vt`).
        if self.is_firing(RuleKind::Noise) {
            for rule in ECTOPY_RULES.into_iter().filter(|r| *r != RuleKind::Nsvt) {
                self.hold(policy, rule, at);
            }
            return;
        }
        if policy.couplet.is_some() {
            let active = ectopy.couplet();
            self.observe(policy, RuleKind::Couplet, at, active, !active, 2.0, events);
        }
        type Pattern = fn(&VentricularEctopy, u8) -> bool;
        let patterns: [(RuleKind, _, Pattern); 2] = [
            (
                RuleKind::Bigeminy,
                &policy.bigeminy,
                VentricularEctopy::bigeminy,
            ),
            (
                RuleKind::Trigeminy,
                &policy.trigeminy,
                VentricularEctopy::trigeminy,
            ),
        ];
        for (rule, settings, pattern) in patterns {
            if let Some(r) = settings {
                let active = pattern(ectopy, r.cycles);
                let value = f32::from(r.cycles);
                self.observe(policy, rule, at, active, !active, value, events);
            }
        }
        if let Some(r) = &policy.pvc_per_minute {
            let count = ectopy.per_minute();
            let active = count >= u32::from(r.limit);
            let rule = RuleKind::PvcPerMinute;
            self.observe(policy, rule, at, active, !active, count as f32, events);
        }
    }

    /// One finished quality window: technical alarms, asystole, flutter/fibrillation.
    pub fn on_window(
        &mut self,
        policy: &ThresholdPolicy,
        facts: &WindowFacts<'_>,
        events: &mut Vec<RuleEvent>,
    ) {
        let at = facts.at;
        let q = facts.quality;
        // Noise (motion, muscle) comes and goes on one lead at a time and is the commonest
        // false alarm: while another lead is clean the beats are found on it, so noise is
        // only worth an alarm when it leaves no lead to analyse. A flat or saturated lead is
        // an equipment fault someone must fix, so those stay per lead.
        // The noise gate holding the physiological rules (`noise_gate.rs`) is said too:
        // an alarm withheld must never be withheld silently.
        let noise_blind = q.noise_blind() || facts.noise_hold;
        let technical = [
            (RuleKind::LeadOff, facts.lead_off),
            (RuleKind::FlatLine, q.any(LeadQuality::Flat)),
            (RuleKind::Saturation, q.any(LeadQuality::Saturated)),
            (RuleKind::Noise, noise_blind),
        ];
        for (rule, bad) in technical {
            let lead = q.leads.iter().position(|l| bad && *l != LeadQuality::Good);
            let value = lead.map_or(0.0, |l| l as f32);
            self.observe(policy, rule, at, bad, !bad, value, events);
        }
        self.on_fast_vt(policy, at, facts.fast_vt, events);
        let analysable = !facts.lead_off && q.analysable();
        if !analysable {
            self.hold(policy, RuleKind::Asystole, at);
            self.hold(policy, RuleKind::VentricularFibrillation, at);
            return;
        }
        if let (Some(a), Some(silent)) = (&policy.asystole, facts.silent_s) {
            // Flutter waves are not QRS complexes, so the detector goes quiet in VF: that
            // is the VF rule's alarm, not asystole.
            let active = silent >= f64::from(a.after_s) && !facts.continuous_activity;
            let value = silent as f32;
            // Silence shorter than the limit means beats came back (each beat restarts it).
            self.observe(
                policy,
                RuleKind::Asystole,
                at,
                active,
                !active,
                value,
                events,
            );
        }
        let vf = RuleKind::VentricularFibrillation;
        // Fibrillation and flutter waves are slow (3–8 Hz) and do not turn fast; noise that
        // the detector also takes for flutter does, on every lead: VF needs confirmation on
        // a lead without it.
        if facts.learning || facts.noise_hold || q.turning_everywhere() {
            self.hold(policy, vf, at);
            return;
        }
        // VF clears only on organised rhythm: no flutter and a beat lately. Silence (the
        // asystole between VF episodes of one arrest) neither clears nor re-fires it, so
        // the alert stays open through the arrest and the next VF after organised rhythm
        // has lasted the clear time pages again (docs/clinical-performance.md, "When VF
        // is a new alarm").
        let flutter = facts.flutter;
        let organised = !flutter && facts.silent_s.is_some_and(|s| s < ORGANISED_SILENCE_S);
        self.observe(policy, vf, at, flutter, organised, 1.0, events);
    }

    /// Wall-clock check of the gateway's silence (`silent_s` since the last block).
    pub fn on_clock(
        &mut self,
        policy: &ThresholdPolicy,
        now: Nanos,
        silent_s: f64,
        events: &mut Vec<RuleEvent>,
    ) {
        let Some(rule) = &policy.no_data else {
            return;
        };
        let active = silent_s >= f64::from(rule.after_s);
        let value = silent_s as f32;
        self.observe(
            policy,
            RuleKind::NoData,
            now,
            active,
            !active,
            value,
            events,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ventricular_ectopy::Kind;
    use cw_core::rules::{
        ConditionRule, CoupletRule, NsvtRule, PatternRule, PauseRule, PvcRateRule,
    };
    use cw_core::{HrLimit, PatientId, Priority};
    use cw_detect::{LeadQuality, QualityWindow};

    const FS: f64 = 250.0;

    /// Every ventricular-ectopy rule on at its defaults, and VT.
    fn policy() -> ThresholdPolicy {
        ThresholdPolicy {
            vt: Some(VtRule::default()),
            nsvt: Some(NsvtRule::default()),
            couplet: Some(CoupletRule::default()),
            bigeminy: Some(PatternRule::default()),
            trigeminy: Some(PatternRule::default()),
            pvc_per_minute: Some(PvcRateRule::default()),
            ..ThresholdPolicy::empty(PatientId::parse("p").expect("valid"))
        }
    }

    /// Feeds classified beats as the monitor does: `beats` is a pattern (V, N, Q for an
    /// unclassifiable beat, or W for a noisy V beat), one beat every `rr_s` (V beats every
    /// `v_rr_s` after the beat before them); `analysable` says whether the signal was.
    fn replay(
        policy: &ThresholdPolicy,
        beats: &str,
        rr_s: f64,
        v_rr_s: f64,
        analysable: bool,
    ) -> Vec<RuleEvent> {
        replay_in(
            &mut RuleBank::default(),
            policy,
            beats,
            rr_s,
            v_rr_s,
            analysable,
        )
    }

    /// [`replay`] into a bank that has seen something already (an open noise alert).
    fn replay_in(
        bank: &mut RuleBank,
        policy: &ThresholdPolicy,
        beats: &str,
        rr_s: f64,
        v_rr_s: f64,
        analysable: bool,
    ) -> Vec<RuleEvent> {
        let mut runs = VentricularRuns::default();
        let mut ectopy = VentricularEctopy::default();
        let mut events = Vec::new();
        let mut t = 0.0;
        for c in beats.chars() {
            // W: a V beat as noisy as the noise gate's level and more.
            let noise = if c == 'W' { 2.0 * NOISY_BEAT } else { 0.0 };
            let c = if c == 'W' { 'V' } else { c };
            t += if c == 'V' { v_rr_s } else { rr_s };
            let sample = (t * FS).round() as u64;
            let ended = runs.on_beat(sample, c == 'V', noise);
            let kind = match c {
                'V' if analysable => Kind::Ventricular,
                'N' if analysable => Kind::Conducted,
                _ => Kind::Unknown,
            };
            ectopy.on_beat(sample, kind, FS);
            let facts = ClassFacts {
                analysable,
                sample,
                fs: FS,
                ended,
                af_trusted: analysable,
                fast_vt: false,
            };
            // Classes are final about one beat later.
            let at = ((t + rr_s) * 1e9) as Nanos;
            let af = AfRhythm::default();
            bank.on_classified(policy, at, &facts, &mut runs, &ectopy, &af, &mut events);
        }
        events
    }

    fn fired(events: &[RuleEvent]) -> Vec<(RuleKind, f32)> {
        events
            .iter()
            .filter_map(|e| match e {
                RuleEvent::Fire { rule, value, .. } => Some((*rule, *value)),
                RuleEvent::Resolve { .. } | RuleEvent::Episode { .. } => None,
            })
            .collect()
    }

    fn sinus(beats: usize) -> String {
        "N".repeat(beats)
    }

    #[test]
    fn a_couplet_raises_couplet_alone_and_resolves_after_its_clear_time() {
        let beats = format!("{}VV{}", sinus(10), sinus(20));
        let events = replay(&policy(), &beats, 0.8, 0.5, true);
        assert_eq!(fired(&events), vec![(RuleKind::Couplet, 2.0)], "{events:?}");
        let resolved = events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    RuleEvent::Resolve {
                        rule: RuleKind::Couplet,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(resolved, 1, "{events:?}");
    }

    #[test]
    fn while_the_noise_alarm_sounds_single_v_calls_raise_no_ectopy_alarm_but_a_run_still_does() {
        let policy = ThresholdPolicy {
            noise: Some(ConditionRule {
                priority: Priority::Low,
                for_s: 0.0,
                clear_s: 10.0,
            }),
            ..policy()
        };
        let quality = one_good_lead();
        let mut bank = RuleBank::default();
        let mut noisy = window_facts(0, &quality, false, false, None);
        noisy.noise_hold = true;
        bank.on_window(&policy, &noisy, &mut Vec::new());
        assert!(bank.is_firing(RuleKind::Noise));
        // Bigeminy for 12 cycles, a couplet, 11 PVCs in the minute: all held.
        let beats = format!("{}{}NVV{}", sinus(4), "NV".repeat(12), sinus(4));
        let events = replay_in(&mut bank, &policy, &beats, 0.8, 0.5, true);
        assert_eq!(fired(&events), vec![], "{events:?}");
        // A fast run is a run, noise alarm or not: VT, and NSVT when it ends.
        let run = format!("{}VVVV{}", sinus(4), sinus(4));
        let rules: Vec<RuleKind> = fired(&replay_in(&mut bank, &policy, &run, 0.8, 0.4, true))
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(
            rules,
            vec![RuleKind::VentricularTachycardia, RuleKind::Nsvt],
            "{rules:?}"
        );
        // Without the noise alarm the same beats raise the ectopy alarms.
        let rules: Vec<RuleKind> = fired(&replay(&policy, &beats, 0.8, 0.5, true))
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        for rule in [
            RuleKind::Bigeminy,
            RuleKind::Couplet,
            RuleKind::PvcPerMinute,
        ] {
            assert!(rules.contains(&rule), "{rule:?} in {rules:?}");
        }
    }

    #[test]
    fn a_fast_run_raises_vt_at_onset_and_nsvt_with_its_length_when_it_ends() {
        // Five V beats at 150 bpm.
        let beats = format!("{}VVVVV{}", sinus(10), sinus(10));
        let events = replay(&policy(), &beats, 0.8, 0.4, true);
        assert_eq!(
            fired(&events),
            vec![
                (RuleKind::VentricularTachycardia, 150.0),
                (RuleKind::Nsvt, 5.0)
            ],
            "{events:?}"
        );
    }

    #[test]
    fn isolated_pvcs_after_a_vt_do_not_hold_it_open_so_the_next_vt_alarms_again() {
        // VT, then 31 s of sinus with a PVC every 5.2 s, then VT again (mitdb 203).
        let pvcs = format!("{}V", sinus(6)).repeat(6);
        let beats = format!("{}VVVVV{pvcs}VVVVV{}", sinus(10), sinus(10));
        let vt: Vec<_> = fired(&replay(&policy(), &beats, 0.8, 0.4, true))
            .into_iter()
            .filter(|(r, _)| *r == RuleKind::VentricularTachycardia)
            .collect();
        assert_eq!(vt.len(), 2, "{vt:?}");
    }

    #[test]
    fn a_slow_ventricular_run_is_a_ventricular_run_not_vt() {
        // Four V beats at 60 bpm: idioventricular, below the VT rate.
        let beats = format!("{}VVVV{}", sinus(10), sinus(10));
        let events = replay(&policy(), &beats, 0.8, 1.0, true);
        assert_eq!(fired(&events), vec![(RuleKind::Nsvt, 4.0)], "{events:?}");
    }

    #[test]
    fn a_sustained_run_is_sustained_vt_never_nsvt() {
        // 80 V beats at 150 bpm: 31.6 s.
        let beats = format!("{}{}{}", sinus(10), "V".repeat(80), sinus(10));
        let events = replay(&policy(), &beats, 0.8, 0.4, true);
        let rules: Vec<RuleKind> = fired(&events).into_iter().map(|(r, _)| r).collect();
        assert!(rules.contains(&RuleKind::SustainedVt), "{events:?}");
        assert!(!rules.contains(&RuleKind::Nsvt), "{events:?}");
        assert!(!rules.contains(&RuleKind::Couplet), "{events:?}");
    }

    #[test]
    fn bigeminy_and_trigeminy_fire_after_their_cycles_and_not_before() {
        let only = |rule: RuleKind, beats: &str| {
            fired(&replay(&policy(), beats, 0.8, 0.5, true))
                .into_iter()
                .filter(|(r, _)| *r == rule)
                .count()
        };
        let bigeminy = |cycles| format!("{}{}{}", sinus(10), "VN".repeat(cycles), sinus(10));
        assert_eq!(only(RuleKind::Bigeminy, &bigeminy(3)), 0);
        assert_eq!(only(RuleKind::Bigeminy, &bigeminy(4)), 1);
        assert_eq!(only(RuleKind::Bigeminy, &bigeminy(30)), 1, "one alert");
        assert_eq!(only(RuleKind::Trigeminy, &bigeminy(30)), 0);
        let trigeminy = |cycles| format!("{}{}{}", sinus(10), "VNN".repeat(cycles), sinus(10));
        assert_eq!(only(RuleKind::Trigeminy, &trigeminy(3)), 0);
        assert_eq!(only(RuleKind::Trigeminy, &trigeminy(4)), 1);
        assert_eq!(only(RuleKind::Bigeminy, &trigeminy(30)), 0);
    }

    #[test]
    fn pvcs_per_minute_fire_at_the_limit() {
        // One V every 7 beats of 0.8 s (5.6 s): 10 or 11 in a minute; one every 9 beats
        // (7.2 s): 8 or 9.
        let every = |n: usize| format!("{}V", sinus(n - 1)).repeat(20);
        let pvc = |beats: &str| {
            fired(&replay(&policy(), beats, 0.8, 0.8, true))
                .into_iter()
                .filter(|(r, _)| *r == RuleKind::PvcPerMinute)
                .collect::<Vec<_>>()
        };
        assert_eq!(pvc(&every(7)), vec![(RuleKind::PvcPerMinute, 10.0)]);
        assert!(pvc(&every(9)).is_empty());
    }

    #[test]
    fn a_fast_run_of_noisy_ventricular_beats_is_neither_vt_nor_nsvt_unless_most_of_it_is_clean() {
        let count = |rule: RuleKind, beats: &str| {
            fired(&replay(&policy(), beats, 0.8, 0.4, true))
                .into_iter()
                .filter(|(r, _)| *r == rule)
                .count()
        };
        let noisy = format!("{}WWWWW{}", sinus(10), sinus(10));
        assert_eq!(count(RuleKind::VentricularTachycardia, &noisy), 0);
        assert_eq!(count(RuleKind::Nsvt, &noisy), 0);
        let mostly_clean = format!("{}VWVVV{}", sinus(10), sinus(10));
        assert_eq!(count(RuleKind::VentricularTachycardia, &mostly_clean), 1);
        assert_eq!(count(RuleKind::Nsvt, &mostly_clean), 1);
    }

    /// One lead, good.
    fn one_good_lead() -> QualityWindow {
        QualityWindow {
            end_sample: 0,
            leads: vec![LeadQuality::Good],
            turning: vec![false],
        }
    }

    /// The VF rule alone, with `for_s` and a clear time of 10 s.
    fn vf_policy(for_s: f32) -> ThresholdPolicy {
        ThresholdPolicy {
            vf: Some(ConditionRule {
                priority: Priority::High,
                for_s,
                clear_s: 10.0,
            }),
            ..ThresholdPolicy::empty(PatientId::parse("p").expect("valid"))
        }
    }

    /// A quality window's facts over analysable signal after the learning period.
    fn window_facts(
        at: Nanos,
        quality: &QualityWindow,
        flutter: bool,
        continuous_activity: bool,
        fast_vt: Option<FastActivity>,
    ) -> WindowFacts<'_> {
        WindowFacts {
            at,
            quality,
            lead_off: false,
            learning: false,
            silent_s: Some(0.0),
            flutter,
            continuous_activity,
            noise_hold: false,
            fast_vt,
        }
    }

    #[test]
    fn a_long_rr_while_vf_is_alarmed_is_no_pause_but_one_after_vf_cleared_is() {
        let policy = ThresholdPolicy {
            pause: Some(PauseRule {
                rr_s: 3.0,
                priority: Priority::Medium,
                clear_s: 10.0,
            }),
            ..vf_policy(0.0)
        };
        let quality = one_good_lead();
        let second = |s: i64| s * 1_000_000_000;
        let window = |bank: &mut RuleBank, at, flutter, events: &mut Vec<RuleEvent>| {
            let facts = window_facts(at, &quality, flutter, flutter, None);
            bank.on_window(&policy, &facts, events);
        };
        let long_rr = |bank: &mut RuleBank, at, events: &mut Vec<RuleEvent>| {
            let reading = HrReading {
                sample: 0,
                rr_s: 4.5,
                instant_bpm: 13.3,
                average_bpm: 40.0,
            };
            bank.on_beat(
                &policy,
                at,
                &reading,
                &Rhythm::default(),
                true,
                false,
                events,
            );
        };
        let mut bank = RuleBank::default();
        let mut events = Vec::new();
        for s in 1..=5 {
            window(&mut bank, second(s), true, &mut events);
        }
        assert!(
            bank.is_firing(RuleKind::VentricularFibrillation),
            "{events:?}"
        );
        // The complexes found in the fibrillation come seconds apart.
        long_rr(&mut bank, second(5), &mut events);
        assert!(!bank.is_firing(RuleKind::Pause), "{events:?}");
        // VF over and cleared: the same interval is a pause.
        for s in 6..=20 {
            window(&mut bank, second(s), false, &mut events);
        }
        assert!(
            !bank.is_firing(RuleKind::VentricularFibrillation),
            "{events:?}"
        );
        long_rr(&mut bank, second(21), &mut events);
        assert!(bank.is_firing(RuleKind::Pause), "{events:?}");
    }

    #[test]
    fn while_the_noise_alarm_sounds_rate_and_pause_rules_hold_and_after_it_a_fast_rate_fires() {
        let policy = ThresholdPolicy {
            noise: Some(ConditionRule {
                priority: Priority::Low,
                for_s: 0.0,
                clear_s: 10.0,
            }),
            pause: Some(PauseRule {
                rr_s: 3.0,
                priority: Priority::Medium,
                clear_s: 10.0,
            }),
            hr_high: Some(HrLimit {
                bpm: 120.0,
                priority: Priority::High,
                for_s: 0.0,
                hysteresis_bpm: 5.0,
                clear_s: 10.0,
            }),
            ..vf_policy(0.0)
        };
        let quality = one_good_lead();
        let second = |s: i64| s * 1_000_000_000;
        let beat = |bank: &mut RuleBank, at, rr_s: f64, events: &mut Vec<RuleEvent>| {
            let bpm = (60.0 / rr_s) as f32;
            let reading = HrReading {
                sample: 0,
                rr_s,
                instant_bpm: bpm,
                average_bpm: bpm,
            };
            let rhythm = Rhythm::default();
            bank.on_beat(&policy, at, &reading, &rhythm, true, false, events);
        };
        let mut bank = RuleBank::default();
        let mut events = Vec::new();
        let mut noisy = window_facts(second(1), &quality, false, false, None);
        noisy.noise_hold = true;
        bank.on_window(&policy, &noisy, &mut events);
        assert!(bank.is_firing(RuleKind::Noise), "{events:?}");
        // The gate has let go (no hold), the noise alarm still sounds: 150 bpm and a
        // 4.5 s interval raise nothing.
        bank.on_window(
            &policy,
            &window_facts(second(2), &quality, false, false, None),
            &mut events,
        );
        beat(&mut bank, second(2), 0.4, &mut events);
        beat(&mut bank, second(3), 4.5, &mut events);
        assert!(bank.is_firing(RuleKind::Noise), "{events:?}");
        assert_eq!(fired(&events), vec![(RuleKind::Noise, 0.0)], "{events:?}");
        // Once the noise alarm has cleared, the same rate is alarmed.
        for s in 3..=13 {
            let facts = window_facts(second(s), &quality, false, false, None);
            bank.on_window(&policy, &facts, &mut events);
        }
        assert!(!bank.is_firing(RuleKind::Noise), "{events:?}");
        beat(&mut bank, second(14), 0.4, &mut events);
        assert!(bank.is_firing(RuleKind::HrHigh), "{events:?}");
    }

    /// VF, 12 s of asystole, VF again: one alert; 10 s of organised rhythm close it, and
    /// VF after that pages again, however often VF came before (no flapping hold).
    #[test]
    fn a_vf_alert_stays_open_through_the_arrest_and_vf_after_organised_rhythm_pages_again() {
        let policy = vf_policy(2.0);
        let quality = one_good_lead();
        // Each second: 'F' flutter flagged, 'A' asystole (no beat for long), 'N' organised.
        let run = |rhythm: &str| {
            let mut bank = RuleBank::default();
            let mut events = Vec::new();
            let mut silent = 0.0;
            for (k, c) in rhythm.chars().enumerate() {
                silent = if c == 'N' { 0.5 } else { silent + 1.0 };
                let at = (k as i64 + 1) * 1_000_000_000;
                let mut facts = window_facts(at, &quality, c == 'F', c == 'F', None);
                facts.silent_s = Some(silent);
                bank.on_window(&policy, &facts, &mut events);
            }
            let count = |f: fn(&RuleEvent) -> bool| events.iter().filter(|e| f(e)).count();
            (
                count(|e| matches!(e, RuleEvent::Fire { .. })),
                count(|e| matches!(e, RuleEvent::Resolve { .. })),
            )
        };
        let vf = "F".repeat(20);
        let arrest = format!("{vf}{}{vf}", "A".repeat(12));
        assert_eq!(run(&arrest), (1, 0), "one arrest, one alert");
        // Organised rhythm shorter than the clear time: still the same arrest.
        assert_eq!(run(&format!("{vf}{}{vf}", "N".repeat(8))), (1, 0));
        // Four VF episodes with 15 s of organised rhythm between: four alarms.
        let episodes = format!("{vf}{}", "N".repeat(15)).repeat(4);
        assert_eq!(
            run(&episodes),
            (4, 4),
            "each VF after organised rhythm pages"
        );
    }

    #[test]
    fn fast_activity_raises_vt_then_sustained_vt_and_its_few_found_beats_do_not_end_it() {
        let policy = policy();
        let mut bank = RuleBank::default();
        let mut runs = VentricularRuns::default();
        let ectopy = VentricularEctopy::default();
        let af = AfRhythm::default();
        let quality = one_good_lead();
        let mut events = Vec::new();
        for second in 1..=40u32 {
            let at = i64::from(second) * 1_000_000_000;
            let fast = FastActivity {
                bpm: 180.0,
                lasted_s: f64::from(second),
            };
            let facts = window_facts(at, &quality, false, true, Some(fast));
            bank.on_window(&policy, &facts, &mut events);
            // The detector finds a complex now and then, classed N.
            let sample = u64::from(second) * 250;
            let ended = runs.on_beat(sample, false, 0.0);
            let facts = ClassFacts {
                analysable: true,
                sample,
                fs: FS,
                ended,
                af_trusted: true,
                fast_vt: true,
            };
            bank.on_classified(&policy, at, &facts, &mut runs, &ectopy, &af, &mut events);
        }
        let vt: Vec<(RuleKind, f32)> = fired(&events)
            .into_iter()
            .filter(|(r, _)| matches!(r, RuleKind::VentricularTachycardia | RuleKind::SustainedVt))
            .collect();
        assert_eq!(
            vt,
            vec![
                (RuleKind::VentricularTachycardia, 180.0),
                (RuleKind::SustainedVt, 30.0)
            ],
            "{events:?}"
        );
        // One VT all along: neither resolved nor counted again at each found beat.
        let broken = events.iter().any(|e| match e {
            RuleEvent::Resolve { .. } => true,
            RuleEvent::Episode { episode, .. } => episode.count > 1,
            RuleEvent::Fire { .. } => false,
        });
        assert!(!broken, "{events:?}");
    }

    #[test]
    fn nothing_fires_over_unanalysable_signal_or_when_the_rules_are_off() {
        let beats = format!("{}VVN{}{}", sinus(10), "VN".repeat(10), "VVVVN");
        assert!(replay(&policy(), &beats, 0.8, 0.5, false).is_empty());
        let off = ThresholdPolicy {
            vt: Some(VtRule::default()),
            ..ThresholdPolicy::empty(PatientId::parse("p").expect("valid"))
        };
        let events = replay(&off, &beats, 0.8, 0.5, true);
        assert_eq!(
            fired(&events),
            vec![(RuleKind::VentricularTachycardia, 120.0)],
            "{events:?}"
        );
        // An unclassifiable beat inside the pattern breaks it.
        let broken = format!("{}VNVNQNVNVN{}", sinus(10), sinus(5));
        assert!(replay(&policy(), &broken, 0.8, 0.5, true).is_empty());
    }
}
