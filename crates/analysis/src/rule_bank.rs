//! Every rule of a patient's policy as one lifecycle state machine each, and the mapping
//! from what the monitor measured (beats, RR, quality windows, silence) to each rule's
//! condition. Physiological rules are held (neither fire nor clear) while the signal is
//! not analysable; technical rules say why.

use crate::condition_state::{ConditionState, Transition};
use crate::monitor::RuleEvent;
use crate::rhythm::Rhythm;
use crate::ventricular::VentricularRuns;
use cw_core::time::Nanos;
use cw_core::{Episode, RuleKind, ThresholdPolicy};
use cw_detect::{HrReading, LeadQuality, QualityWindow};

/// AF clears once the irregularity is back under this fraction of the limit.
const AF_CLEAR_FRACTION: f32 = 0.75;

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
    /// The detector's VF/VFL flag.
    pub flutter: bool,
    /// Fast activity the detector does not report as beats (flutter waves, fibrillation,
    /// or noise on a lead that still shows complexes): not silence, whether VF or not.
    pub continuous_activity: bool,
}

/// One classified beat, for the ventricular rules.
pub struct ClassFacts {
    /// The signal was analysable when the class was decided.
    pub analysable: bool,
    pub sample: u64,
    pub fs: f64,
}

#[derive(Clone, Debug, Default)]
pub struct RuleBank {
    states: [ConditionState; RuleKind::ALL.len()],
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
        let Some(row) = policy.rule(rule) else {
            return;
        };
        let state = &mut self.states[index(rule)];
        match state.observe(rule, row.timing, &policy.flapping, at, active, clear, value) {
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
    fn hold(&mut self, policy: &ThresholdPolicy, rule: RuleKind, at: Nanos) {
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
        if !trusted {
            for rule in [
                RuleKind::HrHigh,
                RuleKind::HrLow,
                RuleKind::Pause,
                RuleKind::TachyRun,
                RuleKind::BradyRun,
                RuleKind::AtrialFibrillation,
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
            self.observe(policy, RuleKind::Pause, at, long, !long, rr, events);
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
        if let Some(af) = &policy.af
            && let Some(irr) = rhythm.irregularity(usize::from(af.window_beats))
        {
            let (active, clear) = (
                irr > af.irregularity,
                irr < af.irregularity * AF_CLEAR_FRACTION,
            );
            let rule = RuleKind::AtrialFibrillation;
            self.observe(policy, rule, at, active, clear, irr, events);
        }
    }

    /// One beat whose class became final (classes trail beats by about one beat), with
    /// the ventricular run it ends or extends; `at` is when the class was decided.
    pub fn on_classified(
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
        let is_vt = run.beats >= u32::from(vt.beats) && run.bpm >= vt.bpm;
        let episode_s = runs.episode_s(facts.sample, is_vt, facts.fs);
        let broken = run.beats == 0;
        let rule = RuleKind::VentricularTachycardia;
        self.observe(policy, rule, at, is_vt, broken, run.bpm, events);
        let sustained = is_vt && episode_s >= f64::from(vt.sustained_s);
        let value = episode_s as f32;
        let rule = RuleKind::SustainedVt;
        self.observe(policy, rule, at, sustained, broken, value, events);
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
        let noise_blind = !q.analysable() && q.any(LeadQuality::Noisy);
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
        if facts.learning {
            self.hold(policy, vf, at);
            return;
        }
        let flutter = facts.flutter;
        self.observe(policy, vf, at, flutter, !flutter, 1.0, events);
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
