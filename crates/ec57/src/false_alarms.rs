//! Each judged clinical alarm and where it fell: while the technical noise alarm sounded,
//! within `AFTER_NOISE_S` after it stopped, in a noisy segment of a noise-stress run with
//! the noise alarm silent, or on clean signal. The false-alarm work starts from the false
//! ones; the true ones under the noise alarm are what holding a rule there would cost
//! (docs/clinical-performance.md, "False clinical alarms by cause").

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::alarms::{Alarm, AlarmKind, Judge, Verdict};
use crate::noise_stress;

/// The noise alarm resolves some seconds after the noise; an alarm this soon after it
/// still comes from the noisy stretch.
pub const AFTER_NOISE_S: f64 = 10.0;

/// The technical alarm the noise raises (`RuleKind::Noise`'s name).
const NOISE_RULE: &str = "noise";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setting {
    /// The technical noise alarm was sounding when it fired.
    NoiseAlarm,
    /// The noise alarm had stopped at most `AFTER_NOISE_S` before.
    AfterNoiseAlarm,
    /// Noise was added there (noise-stress run) and no noise alarm sounded.
    NoisySegment,
    /// Clean signal, no noise alarm near.
    Clean,
}

impl Setting {
    pub const ALL: [Setting; 4] = [
        Setting::NoiseAlarm,
        Setting::AfterNoiseAlarm,
        Setting::NoisySegment,
        Setting::Clean,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Setting::NoiseAlarm => "noise alarm on",
            Setting::AfterNoiseAlarm => "after noise alarm",
            Setting::NoisySegment => "noisy, no alarm",
            Setting::Clean => "clean",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlacedAlarm {
    pub rule: String,
    pub fired_s: f64,
    /// True or false (alarms not judged are not placed).
    pub true_: bool,
    pub setting: Setting,
}

/// The judged clinical alarms of one record, each placed by the record's own noise alarms
/// (`mark_stressed` then tells noise-stress segments from clean signal).
pub fn placed(judge: &Judge, alarms: &[Alarm]) -> Vec<PlacedAlarm> {
    let noise: Vec<(f64, f64)> = alarms
        .iter()
        .filter(|a| a.rule == NOISE_RULE)
        .map(|a| (a.fired_s, a.end_s))
        .collect();
    alarms
        .iter()
        .filter(|a| a.kind != AlarmKind::Technical)
        .filter_map(|a| {
            let true_ = match judge.verdict(a) {
                Verdict::True => true,
                Verdict::False => false,
                Verdict::NotJudged => return None,
            };
            let t = a.fired_s;
            let setting = if noise.iter().any(|&(from, to)| from <= t && t <= to) {
                Setting::NoiseAlarm
            } else if noise
                .iter()
                .any(|&(_, to)| to < t && t - to <= AFTER_NOISE_S)
            {
                Setting::AfterNoiseAlarm
            } else {
                Setting::Clean
            };
            Some(PlacedAlarm {
                rule: a.rule.clone(),
                fired_s: t,
                true_,
                setting,
            })
        })
        .collect()
}

/// A noise-stress run: the alarms on clean signal that fell in a segment with noise
/// added under the standard protocol (`noise_stress.rs`) are placed there.
pub fn mark_stressed(list: &mut [PlacedAlarm]) {
    for f in list {
        if f.setting == Setting::Clean && noise_stress::is_noisy(f.fired_s) {
            f.setting = Setting::NoisySegment;
        }
    }
}

fn table(out: &mut String, title: &str, records: &[(&str, &[PlacedAlarm])], true_: bool) {
    let mut by_rule: BTreeMap<&str, [u64; 4]> = BTreeMap::new();
    let mut all = [0u64; 4];
    for f in records
        .iter()
        .flat_map(|(_, l)| l.iter())
        .filter(|f| f.true_ == true_)
    {
        let k = f.setting as usize;
        by_rule.entry(f.rule.as_str()).or_default()[k] += 1;
        all[k] += 1;
    }
    let head: Vec<String> = Setting::ALL
        .iter()
        .map(|s| format!("{:>18}", s.as_str()))
        .collect();
    let _ = writeln!(out, "{title}\n{:<26} {:>5} {}", "rule", "n", head.join(""));
    let line = |out: &mut String, rule: &str, n: &[u64; 4]| {
        let cells: Vec<String> = n.iter().map(|c| format!("{c:>18}")).collect();
        let total: u64 = n.iter().sum();
        let _ = writeln!(out, "{rule:<26} {total:>5} {}", cells.join(""));
    };
    for (rule, n) in &by_rule {
        line(out, rule, n);
    }
    line(out, "all clinical", &all);
}

/// Gross counts by rule and setting, false and true; then every false alarm, and every
/// true one the noise alarm sounded over, by record.
pub fn render(out: &mut String, records: &[(&str, &[PlacedAlarm])]) {
    let title = format!(
        "\nFalse clinical alarms by rule and where they fell (noise alarm sounding, stopped\n\
         ≤ {AFTER_NOISE_S:.0} s before, noise added but no noise alarm, clean signal)"
    );
    table(out, &title, records, false);
    table(out, "\nTrue clinical alarms, likewise", records, true);
    let _ = writeln!(
        out,
        "\nFalse clinical alarms, and true ones while the noise alarm sounded, each\n\
         record   rule                        fired s  verdict  where"
    );
    for (name, list) in records {
        for f in list
            .iter()
            .filter(|f| !f.true_ || f.setting == Setting::NoiseAlarm)
        {
            let _ = writeln!(
                out,
                "{name:<8} {:<26} {:>8.1}  {:<7}  {}",
                f.rule,
                f.fired_s,
                if f.true_ { "true" } else { "false" },
                f.setting.as_str()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Reference;
    use cw_wfdb::Annotation;

    fn alarm(rule: &str, kind: AlarmKind, fired_s: f64, end_s: f64) -> Alarm {
        Alarm {
            rule: rule.into(),
            kind,
            fired_s,
            end_s,
            events: 1,
            event_s: Vec::new(),
        }
    }

    #[test]
    fn each_judged_alarm_is_placed_by_the_noise_alarm_and_the_noise_stress_segments() {
        // VT from 100 to 110 s, normal rhythm otherwise; no labelled beats.
        let rhythm = |s: u64, text: &str| Annotation {
            sample: s,
            code: 28,
            aux: Some(text.into()),
        };
        let anns = [rhythm(0, "(N"), rhythm(10_000, "(VT"), rhythm(11_000, "(N")];
        let reference = Reference::from_annotations(100.0, 100_000, &anns);
        let judge = Judge::new(&reference);
        let alarms = [
            alarm(NOISE_RULE, AlarmKind::Technical, 50.0, 120.0),
            alarm("vt", AlarmKind::Vt, 60.0, 65.0),
            alarm("vt", AlarmKind::Vt, 105.0, 109.0),
            alarm("vt", AlarmKind::Vt, 125.0, 130.0),
            alarm("vf", AlarmKind::Vf, 200.0, 205.0),
            alarm("vf", AlarmKind::Vf, 400.0, 405.0),
            alarm("vf", AlarmKind::Vf, 500.0, 505.0),
        ];
        let mut placed = placed(&judge, &alarms);
        let got = |p: &[PlacedAlarm]| -> Vec<(f64, bool, Setting)> {
            p.iter().map(|a| (a.fired_s, a.true_, a.setting)).collect()
        };
        use Setting::*;
        assert_eq!(
            got(&placed),
            vec![
                (60.0, false, NoiseAlarm),
                (105.0, true, NoiseAlarm),
                (125.0, false, AfterNoiseAlarm),
                (200.0, false, Clean),
                (400.0, false, Clean),
                (500.0, false, Clean),
            ],
            "the technical alarm itself is not placed"
        );
        // Noise added from minute 5 in alternating 2-minute segments: 400 s is in the first.
        mark_stressed(&mut placed);
        assert_eq!(placed[4].setting, NoisySegment);
        assert_eq!(placed[5].setting, Clean, "420–540 s is clean");
        let mut out = String::new();
        render(&mut out, &[("r1", &placed)]);
        let first_vt_row: Vec<&str> = out
            .lines()
            .find(|l| l.starts_with("vt "))
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        assert_eq!(first_vt_row, ["vt", "2", "1", "1", "0", "0"], "{out}");
        let listed: Vec<Vec<&str>> = out
            .lines()
            .filter(|l| l.starts_with("r1 "))
            .map(|l| l.split_whitespace().take(4).collect())
            .collect();
        assert_eq!(
            listed.iter().map(|l| l.join(" ")).collect::<Vec<_>>(),
            [
                "r1 vt 60.0 false",
                "r1 vt 105.0 true",
                "r1 vt 125.0 false",
                "r1 vf 200.0 false",
                "r1 vf 400.0 false",
                "r1 vf 500.0 false",
            ],
            "every false alarm, and the true one under the noise alarm: {out}"
        );
    }
}
