//! EC57's table layout as text: beat-by-beat figures, episode figures, alarms by rule and
//! onset-to-alarm delays, one line per record and a gross line.

use std::fmt::Write as _;

use crate::episodes::{EpisodeScore, percent};
use crate::matching::{BeatMatrix, Counts};
use crate::record::{Gross, RecordResult};

/// "-" where EC57 prints it: nothing to divide by.
fn pct(v: Option<f64>) -> String {
    // + 0.0 turns a negative zero into "0.00", not "-0.00".
    v.map_or_else(|| "-".to_string(), |v| format!("{:.2}", v + 0.0))
}

/// Events per hour of `seconds`, "-" over no time.
fn per_hour(events: u64, seconds: f64) -> String {
    if seconds > 0.0 {
        format!("{:.2}", events as f64 * 3600.0 / seconds)
    } else {
        "-".to_string()
    }
}

fn se(c: Counts) -> Option<f64> {
    percent(c.tp as f64, (c.tp + c.fn_) as f64)
}

fn ppv(c: Counts) -> Option<f64> {
    percent(c.tp as f64, (c.tp + c.fp) as f64)
}

/// One line of the beat table: QRS figures from `qrs`, VEB/SVEB from `ectopic`.
fn beat_line(
    out: &mut String,
    name: &str,
    qrs: Option<&BeatMatrix>,
    ectopic: Option<&BeatMatrix>,
    note: &str,
) {
    let Some(m) = qrs else {
        let _ = writeln!(out, "{name:<8} no beat labels");
        return;
    };
    let q = m.qrs();
    let class = |f: &dyn Fn(&BeatMatrix) -> String| match ectopic {
        Some(e) if e.classified => f(e),
        Some(_) => "n/c".to_string(),
        None => "-".to_string(),
    };
    let _ = writeln!(
        out,
        "{name:<8} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}  {note}",
        q.tp + q.fn_,
        pct(se(q)),
        pct(ppv(q)),
        class(&|e| pct(se(e.veb()))),
        class(&|e| pct(ppv(e.veb()))),
        class(&|e| format!("{:.3}", e.veb_fpr())),
        class(&|e| pct(se(e.sveb()))),
        class(&|e| pct(ppv(e.sveb()))),
    );
}

fn episode_cells(e: &EpisodeScore) -> String {
    format!(
        "{:>3}/{:<3} {:>7} {:>7} {:>7} {:>7}",
        e.detected,
        e.episodes,
        pct(e.se()),
        pct(e.ppv()),
        pct(e.duration_se()),
        pct(e.duration_ppv())
    )
}

/// The whole report for `results` (one line per record, then gross).
pub fn render(results: &[RecordResult]) -> String {
    let gross = Gross::of(results);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Beat-by-beat (EC57: 150 ms match, from minute 5; n/c = the detector gave no classes)\n\
         record    beats  QRS Se  QRS +P  VEB Se  VEB +P VEB FPR SVEB Se SVEB +P"
    );
    for r in results {
        let note = if r.paced {
            "paced: not in VEB/SVEB gross"
        } else {
            ""
        };
        beat_line(&mut out, &r.name, r.beats.as_ref(), r.beats.as_ref(), note);
    }
    if gross.qrs.is_some() {
        // QRS over every record; VEB/SVEB over the non-paced ones.
        let (q, e) = (gross.qrs.as_ref(), gross.ectopic.as_ref());
        beat_line(&mut out, "gross", q, e, "");
    }
    let cols = "det/n       Se      +P  dur Se  dur +P";
    let _ = writeln!(
        out,
        "\nEpisodes (VT, VF: a ventricular alarm fires in [onset − 2 s, end + 1 s]; AF: any overlap, EC38)\n\
         {:<8} {:<39} | {:<39} | {:<39}\n{:<8} {cols} | {cols} | {cols}",
        "record", "VT (runs ≥ 3 V at ≥ 100 bpm, (VT)", "VF, VFL", "AF", ""
    );
    let episodes_line = |out: &mut String, name: &str, vt, vf, af| {
        let _ = writeln!(
            out,
            "{name:<8} {} | {} | {}",
            episode_cells(vt),
            episode_cells(vf),
            episode_cells(af)
        );
    };
    for r in results {
        episodes_line(&mut out, &r.name, &r.vt, &r.vf, &r.af);
    }
    episodes_line(&mut out, "gross", &gross.vt, &gross.vf, &gross.af);

    let _ = writeln!(
        out,
        "\nVT, VF episodes alarmed or counted as one more event by an open ventricular alert\n\
         (issue 12 item 5; the table above counts only alarms that fire)\n\
         {:<8} {:<15} | {:<15}\n{:<8} {c} | {c}",
        "record",
        "VT",
        "VF, VFL",
        "",
        c = "det/n        Se"
    );
    let counted_cells = |e: &EpisodeScore| {
        format!(
            "{:>3}/{:<3} {:>7}",
            e.detected_or_counted,
            e.episodes,
            pct(e.se_counted())
        )
    };
    for (name, vt, vf) in results
        .iter()
        .map(|r| (r.name.as_str(), &r.vt, &r.vf))
        .chain([("gross", &gross.vt, &gross.vf)])
    {
        let _ = writeln!(
            out,
            "{name:<8} {} | {}",
            counted_cells(vt),
            counted_cells(vf)
        );
    }

    let _ = writeln!(
        out,
        "\nIssue 12 targets: AF episodes ≥ 30 s, VF/VFL episodes ≥ 10 s; false ventricular alarms\n\
         per hour outside annotated VT, VF, asystole and noise (README). VF alarmed: an alarm\n\
         fired for it, or the VF alarm of the same arrest still sounded (no other rhythm\n\
         for 10 s between; docs/clinical-performance.md, \"When VF is a new alarm\")\n\
         {:<8} {:<39} | {:<39} | VF ≥ 10 s | false VT/VF\n\
         {:<8} {cols} | {cols} |  alarmed  |  n   per h",
        "record", "AF ≥ 30 s", "VF, VFL ≥ 10 s (fired for it)", ""
    );
    let target_line = |out: &mut String,
                       name: &str,
                       af,
                       vf: &EpisodeScore,
                       alarmed: u64,
                       false_: u64,
                       free_s: f64| {
        let _ = writeln!(
            out,
            "{name:<8} {} | {} | {:>9} | {false_:>2} {:>7}",
            episode_cells(af),
            episode_cells(vf),
            format!("{alarmed}/{}", vf.episodes),
            per_hour(false_, free_s)
        );
    };
    for r in results {
        let (f, s) = (r.ventricular_false, r.ventricular_free_s);
        target_line(
            &mut out,
            &r.name,
            &r.af_30s,
            &r.vf_10s,
            r.vf_10s_alarmed,
            f,
            s,
        );
    }
    let (f, s) = (gross.ventricular_false, gross.ventricular_free_s);
    let alarmed = gross.vf_10s_alarmed;
    target_line(
        &mut out,
        "gross",
        &gross.af_30s,
        &gross.vf_10s,
        alarmed,
        f,
        s,
    );

    let _ = writeln!(
        out,
        "\nAlarms by rule (true / false / not judged; false per monitored hour; events: what the\n\
         alerts counted while open, each alarm's own included; +P = true of judged)\n\
         record   rule                        fired events  true false  n/j  false/h      +P"
    );
    let alarm_line = |out: &mut String, name: &str, rule: &str, s: &crate::AlarmScore, h: f64| {
        let _ = writeln!(
            out,
            "{name:<8} {rule:<26} {:>6} {:>6} {:>5} {:>5} {:>4} {:>8.2} {:>7}",
            s.fired,
            s.events,
            s.true_,
            s.false_,
            s.not_judged,
            s.false_ as f64 / h.max(1e-9),
            pct(percent(s.true_ as f64, (s.true_ + s.false_) as f64))
        );
    };
    for r in results {
        let h = r.duration_s / 3600.0;
        for (rule, s) in &r.alarms {
            alarm_line(&mut out, &r.name, rule, s, h);
        }
    }
    for (rule, s) in &gross.alarms {
        alarm_line(&mut out, "gross", rule, s, gross.hours());
    }
    alarm_line(
        &mut out,
        "gross",
        "all clinical",
        &gross.clinical,
        gross.hours(),
    );
    let ectopy = "ventricular ectopy";
    alarm_line(&mut out, "gross", ectopy, &gross.ectopy, gross.hours());
    let judged = gross.clinical.true_ + gross.clinical.false_;
    let _ = writeln!(
        out,
        "false clinical alarms: {} of {judged} judged ({}) over {:.2} h",
        gross.clinical.false_,
        pct(percent(gross.clinical.false_ as f64, judged as f64)).to_string() + " %",
        gross.hours()
    );
    let _ = writeln!(
        out,
        "events inside open clinical alerts: {} beyond the {} alarms",
        gross.clinical.events.saturating_sub(gross.clinical.fired),
        gross.clinical.fired
    );

    let listed: Vec<(&str, &[crate::false_alarms::PlacedAlarm])> = results
        .iter()
        .map(|r| (r.name.as_str(), r.placed.as_slice()))
        .collect();
    crate::false_alarms::render(&mut out, &listed);

    let _ = writeln!(
        out,
        "\nOnset-to-alarm delay (first alarm of the rule fired in [onset − 2 s, end + 1 s])\n\
         record   event      alarmed/events  median s   max s"
    );
    let delay_line = |out: &mut String, name: &str, kind: &str, d: &crate::RuleDelays| {
        let s = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
        let _ = writeln!(
            out,
            "{name:<8} {kind:<10} {:>7}/{:<7} {:>9} {:>7}",
            d.alarmed,
            d.events,
            s(d.median_s()),
            s(d.max_s())
        );
    };
    for r in results {
        for (kind, d) in r.delays.iter().filter(|(_, d)| d.events > 0) {
            delay_line(&mut out, &r.name, kind, d);
        }
    }
    for (kind, d) in &gross.delays {
        delay_line(&mut out, "gross", kind, d);
    }

    let _ = writeln!(
        out,
        "\nNoise gate: time the physiological rules were held as noisy (the replay's own measure)\n\
         record    held s  of record"
    );
    let held_line = |out: &mut String, name: &str, held_s: f64, duration_s: f64| {
        let share =
            percent(held_s, duration_s).map_or_else(|| "-".to_string(), |p| format!("{p:.2} %"));
        let _ = writeln!(out, "{name:<8} {held_s:>7.1} {share:>10}");
    };
    for r in results {
        held_line(&mut out, &r.name, r.noise_held_s, r.duration_s);
    }
    held_line(&mut out, "gross", gross.noise_held_s, gross.duration_s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarms::{Alarm, AlarmKind, Limits};
    use crate::matching::TestBeat;
    use crate::reference::Reference;
    use cw_wfdb::Annotation;

    #[test]
    fn a_record_without_classes_prints_nc_and_every_table_has_its_gross_line() {
        let fs = 100.0;
        let beats: Vec<Annotation> = (0..400u64)
            .map(|k| Annotation {
                sample: k * 100,
                code: 1,
                aux: None,
            })
            .collect();
        let reference = Reference::from_annotations(fs, 40_000, &beats);
        let test: Vec<TestBeat> = beats
            .iter()
            .map(|b| TestBeat {
                sample: b.sample,
                class: None,
            })
            .collect();
        let alarms = [Alarm {
            rule: "pause".into(),
            kind: AlarmKind::Pause { s: 3.0 },
            fired_s: 350.0,
            end_s: 360.0,
            events: 1,
            event_s: Vec::new(),
        }];
        let r = RecordResult::score("r1", &reference, &test, &alarms, &Limits::default());
        let text = render(&[r]);
        assert!(
            text.contains("r1          100  100.00  100.00     n/c"),
            "{text}"
        );
        // Beats, episodes, episodes counted inside open alerts, targets, 3 alarm lines
        // (the rule, all clinical, ventricular ectopy), 3 delays, the noise gate's time.
        assert_eq!(
            text.lines().filter(|l| l.starts_with("gross")).count(),
            11,
            "{text}"
        );
        assert!(
            text.contains(
                "pause                           1      1     0     1    0     9.00    0.00"
            ),
            "{text}"
        );
    }
}
