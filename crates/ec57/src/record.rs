//! Every figure of one record (and the gross over records: sums of counts, as EC57 asks).

use std::collections::BTreeMap;

use crate::alarms::{Alarm, AlarmKind, AlarmScore, Judge, Limits, RuleDelays, delays};
use crate::episodes::{EpisodeInput, EpisodeScore, Interval, Matching};
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
    /// Per rule name.
    pub alarms: BTreeMap<String, AlarmScore>,
    /// Every clinical (non-technical) alarm together.
    pub clinical: AlarmScore,
    pub delays: BTreeMap<String, RuleDelays>,
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
        for a in alarms {
            let v = judge.verdict(a);
            by_rule.entry(a.rule.clone()).or_default().count(v);
            if a.kind != AlarmKind::Technical {
                clinical.count(v);
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
        // Where a ventricular alarm is not false (README): VT, VF, asystole, noise, and
        // any run of ≥ 3 V beats.
        let mut ventricular_ok = reference.vt_episodes();
        for r in [Rhythm::Vf, Rhythm::Asystole, Rhythm::Noise] {
            ventricular_ok.extend(reference.episodes(r));
        }
        ventricular_ok.extend(reference.ventricular_runs(3, 0.0));
        let vt_episodes = reference.vt_episodes();
        let vt_alarms = intervals(&|a| a.kind == AlarmKind::Vt);
        let vt = EpisodeScore::compute(&EpisodeInput {
            reference: &vt_episodes,
            detecting: &ventricular,
            own: &vt_alarms,
            allowed: &ventricular_ok,
            matching: Matching::VENTRICULAR,
        });
        let vf_alarms = intervals(&|a| a.kind == AlarmKind::Vf);
        let vf = EpisodeScore::compute(&EpisodeInput {
            reference: &vf_reference,
            detecting: &ventricular,
            own: &vf_alarms,
            allowed: &ventricular_ok,
            matching: Matching::VENTRICULAR,
        });
        let af_episodes = reference.episodes(Rhythm::Af);
        // Atrial flutter is neither rewarded nor penalised (EC38).
        let mut af_ok = af_episodes.clone();
        af_ok.extend(reference.episodes(Rhythm::Afl));
        let af_alarms = intervals(&|a| a.kind == AlarmKind::Af);
        let af = EpisodeScore::compute(&EpisodeInput {
            reference: &af_episodes,
            detecting: &af_alarms,
            own: &af_alarms,
            allowed: &af_ok,
            matching: Matching::Overlap,
        });
        RecordResult {
            name: name.to_string(),
            duration_s: reference.duration_s,
            paced: reference.paced,
            beats,
            vt,
            vf,
            af,
            alarms: by_rule,
            clinical,
            delays: delays(reference, alarms, limits)
                .into_iter()
                .map(|(k, d)| (k.to_string(), d))
                .collect(),
        }
    }
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
    pub alarms: BTreeMap<String, AlarmScore>,
    pub clinical: AlarmScore,
    pub delays: BTreeMap<String, RuleDelays>,
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
            for (rule, s) in &r.alarms {
                g.alarms.entry(rule.clone()).or_default().add(s);
            }
            g.clinical.add(&r.clinical);
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
