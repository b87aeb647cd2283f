//! Every figure of one record (and the gross over records: sums of counts, as EC57 asks).

use std::collections::BTreeMap;

use crate::alarms::{
    AFTER_S, Alarm, AlarmKind, AlarmScore, BEFORE_S, Judge, Limits, RuleDelays, Verdict, delays,
};
use crate::arrest;
use crate::episodes::{EpisodeInput, EpisodeScore, Interval, Matching, covered};
use crate::false_alarms::{self, PlacedAlarm};
use crate::matching::{BeatMatrix, TestBeat};
use crate::reference::{Reference, Rhythm};

#[derive(Clone, Debug, PartialEq)]
pub struct RecordResult {
    pub name: String,
    pub duration_s: f64,
    /// Paced records are left out of the VEB/SVEB gross (EC57).
    pub paced: bool,
    /// None when the record labels no beats (vfdb: rhythm annotations only).
    pub beats: Option<BeatMatrix>,
    pub vt: EpisodeScore,
    pub vf: EpisodeScore,
    pub af: EpisodeScore,
    /// Issue 12's target sets: AF episodes of ≥ 30 s and VF/VFL episodes of ≥ 10 s
    /// (shorter ones left out of the reference, as EC38's `-I` option does).
    pub af_30s: EpisodeScore,
    pub vf_10s: EpisodeScore,
    /// VF/VFL episodes of ≥ 10 s alarmed: an alarm fired for it, or the VF alarm of the
    /// same arrest still sounded at its onset (`arrest.rs`).
    pub vf_10s_alarmed: u64,
    /// Ventricular (VT, VF) alarms that were false, and the time outside VT, VF,
    /// asystole and noise they are counted over (the README's rate).
    pub ventricular_false: u64,
    pub ventricular_free_s: f64,
    /// Per rule name.
    pub alarms: BTreeMap<String, AlarmScore>,
    /// Every clinical (non-technical) alarm together.
    pub clinical: AlarmScore,
    /// The ventricular-ectopy alarms together (also in `clinical`).
    pub ectopy: AlarmScore,
    pub delays: BTreeMap<String, RuleDelays>,
    /// Seconds the analysis's noise gate held the physiological rules (set by the
    /// caller that replayed the record; 0 from `score`).
    pub noise_held_s: f64,
    /// Each judged clinical alarm and where it fell (`false_alarms.rs`).
    pub placed: Vec<PlacedAlarm>,
}

impl RecordResult {
    pub fn score(
        name: &str,
        reference: &Reference,
        test_beats: &[TestBeat],
        alarms: &[Alarm],
        limits: &Limits,
    ) -> RecordResult {
        let vf_reference = reference.episodes(Rhythm::Vf);
        let beats = reference.has_beat_labels().then(|| {
            BeatMatrix::compare(reference.fs, &reference.beats, test_beats, &vf_reference)
        });
        let judge = Judge::new(reference);
        let mut by_rule: BTreeMap<String, AlarmScore> = BTreeMap::new();
        let mut clinical = AlarmScore::default();
        let mut ectopy = AlarmScore::default();
        for a in alarms {
            let v = judge.verdict(a);
            by_rule
                .entry(a.rule.clone())
                .or_default()
                .count(v, a.events);
            if a.kind != AlarmKind::Technical {
                clinical.count(v, a.events);
            }
            if matches!(a.kind, AlarmKind::VentricularEctopy(_)) {
                ectopy.count(v, a.events);
            }
        }
        let intervals = |pred: &dyn Fn(&Alarm) -> bool| -> Vec<Interval> {
            alarms
                .iter()
                .filter(|a| pred(a))
                .map(Alarm::interval)
                .collect()
        };
        let ventricular = intervals(&|a| a.is_ventricular());
        let ventricular_events: Vec<f64> = alarms
            .iter()
            .filter(|a| a.is_ventricular())
            .flat_map(|a| a.event_s.iter().copied())
            .collect();
        // Where a ventricular alarm is not false (README): VT, VF, asystole, noise, and
        // any run of ≥ 3 V beats.
        let mut ventricular_ok = reference.vt_episodes();
        for r in [Rhythm::Vf, Rhythm::Asystole, Rhythm::Noise] {
            ventricular_ok.extend(reference.episodes(r));
        }
        ventricular_ok.extend(reference.ventricular_runs(3, 0.0));
        let ventricular_free_s = reference.duration_s
            - covered(
                &[Interval::new(0.0, reference.duration_s)],
                &ventricular_ok
                    .iter()
                    .map(|i| i.widened(BEFORE_S, AFTER_S))
                    .collect::<Vec<_>>(),
            );
        let vt_episodes = reference.vt_episodes();
        let vt_alarms = intervals(&|a| a.kind == AlarmKind::Vt);
        let vt = EpisodeScore::compute(&EpisodeInput {
            reference: &vt_episodes,
            detecting: &ventricular,
            detecting_events: &ventricular_events,
            own: &vt_alarms,
            allowed: &ventricular_ok,
            excluded: &[],
            matching: Matching::VENTRICULAR,
        });
        let vf_alarms = intervals(&|a| a.kind == AlarmKind::Vf);
        let vf_input = EpisodeInput {
            reference: &vf_reference,
            detecting: &ventricular,
            detecting_events: &ventricular_events,
            own: &vf_alarms,
            allowed: &ventricular_ok,
            excluded: &[],
            matching: Matching::VENTRICULAR,
        };
        let vf = EpisodeScore::compute(&vf_input);
        let vf_long = at_least(&vf_reference, 10.0);
        let vf_10s = EpisodeScore::compute(&EpisodeInput {
            reference: &vf_long,
            ..vf_input
        });
        let vf_10s_alarmed = arrest::alarmed(
            &vf_long,
            &arrest::arrests(reference),
            &ventricular,
            &vf_alarms,
        );
        let af_episodes = reference.episodes(Rhythm::Af);
        // Atrial flutter is neither rewarded nor penalised: EC38 leaves reference flutter
        // out of AF positive predictivity (episodes and time), as the WFDB `epic` does.
        let flutter = reference.episodes(Rhythm::Afl);
        let af_alarms = intervals(&|a| a.kind == AlarmKind::Af);
        let af_input = EpisodeInput {
            reference: &af_episodes,
            detecting: &af_alarms,
            detecting_events: &[],
            own: &af_alarms,
            allowed: &af_episodes,
            excluded: &flutter,
            matching: Matching::Overlap,
        };
        let af = EpisodeScore::compute(&af_input);
        let af_long = at_least(&af_episodes, 30.0);
        let af_30s = EpisodeScore::compute(&EpisodeInput {
            reference: &af_long,
            ..af_input
        });
        let ventricular_false = alarms
            .iter()
            .filter(|a| a.is_ventricular() && judge.verdict(a) == Verdict::False)
            .count() as u64;
        RecordResult {
            name: name.to_string(),
            duration_s: reference.duration_s,
            paced: reference.paced,
            beats,
            vt,
            vf,
            af,
            af_30s,
            vf_10s,
            vf_10s_alarmed,
            ventricular_false,
            ventricular_free_s,
            alarms: by_rule,
            clinical,
            ectopy,
            delays: delays(reference, alarms, limits)
                .into_iter()
                .map(|(k, d)| (k.to_string(), d))
                .collect(),
            noise_held_s: 0.0,
            placed: false_alarms::placed(&judge, alarms),
        }
    }
}

fn at_least(episodes: &[Interval], min_s: f64) -> Vec<Interval> {
    episodes
        .iter()
        .copied()
        .filter(|e| e.len() >= min_s)
        .collect()
}

/// Sums over records. `ectopic` leaves paced records out (EC57); `qrs` keeps them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gross {
    pub records: usize,
    pub duration_s: f64,
    pub qrs: Option<BeatMatrix>,
    pub ectopic: Option<BeatMatrix>,
    pub vt: EpisodeScore,
    pub vf: EpisodeScore,
    pub af: EpisodeScore,
    pub af_30s: EpisodeScore,
    pub vf_10s: EpisodeScore,
    pub vf_10s_alarmed: u64,
    pub ventricular_false: u64,
    pub ventricular_free_s: f64,
    pub alarms: BTreeMap<String, AlarmScore>,
    pub clinical: AlarmScore,
    pub ectopy: AlarmScore,
    pub delays: BTreeMap<String, RuleDelays>,
    pub noise_held_s: f64,
}

fn add_matrix(into: &mut Option<BeatMatrix>, m: &BeatMatrix) {
    match into {
        Some(sum) => sum.add(m),
        None => *into = Some(*m),
    }
}

impl Gross {
    pub fn of(results: &[RecordResult]) -> Gross {
        let mut g = Gross {
            records: results.len(),
            ..Gross::default()
        };
        for r in results {
            g.duration_s += r.duration_s;
            if let Some(m) = &r.beats {
                add_matrix(&mut g.qrs, m);
                if !r.paced {
                    add_matrix(&mut g.ectopic, m);
                }
            }
            g.vt.add(&r.vt);
            g.vf.add(&r.vf);
            g.af.add(&r.af);
            g.af_30s.add(&r.af_30s);
            g.vf_10s.add(&r.vf_10s);
            g.vf_10s_alarmed += r.vf_10s_alarmed;
            g.ventricular_false += r.ventricular_false;
            g.ventricular_free_s += r.ventricular_free_s;
            g.noise_held_s += r.noise_held_s;
            for (rule, s) in &r.alarms {
                g.alarms.entry(rule.clone()).or_default().add(s);
            }
            g.clinical.add(&r.clinical);
            g.ectopy.add(&r.ectopy);
            for (kind, d) in &r.delays {
                g.delays.entry(kind.clone()).or_default().add(d);
            }
        }
        g
    }

    pub fn hours(&self) -> f64 {
        self.duration_s / 3600.0
    }
}
