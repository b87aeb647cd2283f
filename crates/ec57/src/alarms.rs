//! Each alarm judged true or false against the reference annotations, and the delay from
//! an annotated onset to the alarm. The method, for a clinical reader, is in
//! `docs/clinical-performance.md`; in short:
//!
//! - **rate alarms** (HR high/low, tachy/brady run) are true when the reference heart
//!   rate (mean of 4 annotated RR intervals) crossed the alarm's limit in the 10 s before
//!   the alarm or the 2 s after it;
//! - **pause / asystole** are true when an annotated RR interval of at least the limit
//!   (less the 150 ms match tolerance) contains the alarm or ended ≤ 2 s before it, or
//!   the alarm falls in an annotated asystole (asystole also: in VF, where no QRS is seen);
//! - **AF** is true inside an annotated AF or atrial-flutter episode;
//! - **VT / VF** are true inside annotated VT, VF/VFL, asystole or a run of ≥ 3 V beats;
//! - **ventricular ectopy** is true when the reference beats show what the alarm claims
//!   (≥ 2 consecutive V beats for a couplet; the bigeminy or trigeminy pattern for its
//!   cycles; at least the limit of V beats in 60 s; a run of at least the rule's beats)
//!   at a beat in the 10 s before the alarm or the 2 s after it; a run alarm is also true
//!   inside annotated VT or VF (as a VT alarm is); without beat labels, the others are
//!   not judged;
//! - every episode is widened by 2 s before and 1 s after (the README's VT/VF rule);
//! - an alarm inside annotated `(NOISE` is not judged, nor a rate alarm where the record
//!   labels no beats (vfdb), nor a technical alarm.

use crate::aami::AamiClass;
use crate::episodes::{Interval, merge};
use crate::reference::{Reference, Rhythm};

/// Before and after a reference episode, an alarm still belongs to it.
pub const BEFORE_S: f64 = 2.0;
pub const AFTER_S: f64 = 1.0;
/// A rate alarm is judged against the reference rate over [fire − 10 s, fire + 2 s].
const RATE_LOOKBACK_S: f64 = 10.0;
const RATE_LOOKAHEAD_S: f64 = 2.0;
/// An ectopy alarm is judged against the reference beats over [fire − 10 s, fire + 2 s]
/// (classes are final about a beat late, and a run is reported when it ends).
const ECTOPY_LOOKBACK_S: f64 = 10.0;
/// PVCs per minute count the V beats of the last 60 s.
const MINUTE_S: f64 = 60.0;
/// RR intervals behind the reference heart rate.
const REFERENCE_RR: usize = 4;
/// A reference rate episode (for onset delays) lasts at least this long.
const SUSTAINED_S: f64 = 10.0;

/// What an alarm claims, with the limit it was raised at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AlarmKind {
    HrHigh {
        bpm: f64,
    },
    HrLow {
        bpm: f64,
    },
    TachyRun {
        bpm: f64,
    },
    BradyRun {
        bpm: f64,
    },
    Pause {
        s: f64,
    },
    Asystole {
        s: f64,
    },
    Af,
    Vt,
    Vf,
    /// Couplets, bigeminy, trigeminy, PVCs per minute, non-sustained runs.
    VentricularEctopy(Ectopy),
    Technical,
}

/// What a ventricular-ectopy alarm claims, with its rule's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ectopy {
    /// At least 2 consecutive V beats.
    Couplet,
    /// `cycles` cycles of one V beat and `period − 1` other beats: bigeminy (period 2),
    /// trigeminy (3).
    Pattern { period: usize, cycles: usize },
    /// At least `limit` V beats within 60 s.
    PerMinute { limit: usize },
    /// A run of at least `beats` consecutive V beats.
    Run { beats: usize },
}

/// A reference beat as the ectopy patterns see it: V, conducted (N, S), or neither (F, Q).
#[derive(Clone, Copy, PartialEq, Eq)]
enum PatternBeat {
    V,
    Conducted,
    Other,
}

fn pattern_beat(class: AamiClass) -> PatternBeat {
    match class {
        AamiClass::V => PatternBeat::V,
        AamiClass::N | AamiClass::S => PatternBeat::Conducted,
        AamiClass::F | AamiClass::Q => PatternBeat::Other,
    }
}

/// Times (s) of the reference beats at which `ectopy` is shown: the beat that completes
/// the pattern, and every later beat while it goes on.
pub fn ectopy_times(reference: &Reference, ectopy: Ectopy) -> Vec<f64> {
    let fs = reference.fs;
    let beats: Vec<(f64, PatternBeat)> = reference
        .beats
        .iter()
        .map(|b| (b.sample as f64 / fs, pattern_beat(b.class)))
        .collect();
    let is_v = |k: usize| beats[k].1 == PatternBeat::V;
    let mut out = Vec::new();
    let mut run = 0;
    let mut minute_start = 0;
    let mut in_minute = 0;
    for k in 0..beats.len() {
        let t = beats[k].0;
        run = if is_v(k) { run + 1 } else { 0 };
        if is_v(k) {
            in_minute += 1;
        }
        while beats[minute_start].0 <= t - MINUTE_S {
            if is_v(minute_start) {
                in_minute -= 1;
            }
            minute_start += 1;
        }
        let shown = match ectopy {
            Ectopy::Couplet => run >= 2,
            Ectopy::Run { beats } => run >= beats.max(1),
            Ectopy::PerMinute { limit } => in_minute >= limit.max(1),
            Ectopy::Pattern { period, cycles } => {
                let n = period * cycles;
                n > 0
                    && k + 1 >= n
                    && (0..period).any(|phase| {
                        (0..n).all(|i| {
                            let want_v = (i + phase) % period == 0;
                            let got = beats[k - i].1;
                            if want_v {
                                got == PatternBeat::V
                            } else {
                                got == PatternBeat::Conducted
                            }
                        })
                    })
            }
        };
        if shown {
            out.push(t);
        }
    }
    out
}

/// One alarm: `fired_s` when it fired, `end_s` when it resolved (or the record ended);
/// `events` its rule counted while it was open, the one that fired it included (the
/// alert's episode; the alarm is judged by when it fired), and `event_s` when each event
/// after the first was counted.
#[derive(Clone, Debug, PartialEq)]
pub struct Alarm {
    pub rule: String,
    pub kind: AlarmKind,
    pub fired_s: f64,
    pub end_s: f64,
    pub events: u32,
    pub event_s: Vec<f64>,
}

impl Alarm {
    pub fn interval(&self) -> Interval {
        Interval::new(self.fired_s, self.end_s.max(self.fired_s))
    }

    pub fn is_ventricular(&self) -> bool {
        matches!(self.kind, AlarmKind::Vt | AlarmKind::Vf)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    True,
    False,
    NotJudged,
}

/// Alarms of one rule on a record (or gross).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlarmScore {
    pub fired: u64,
    /// Events their alerts counted while open (each alarm's own included): what beyond
    /// `fired` an open alert held instead of raising again (issue 12 item 5).
    pub events: u64,
    pub true_: u64,
    pub false_: u64,
    pub not_judged: u64,
}

impl AlarmScore {
    pub fn count(&mut self, v: Verdict, events: u32) {
        self.fired += 1;
        self.events += u64::from(events);
        match v {
            Verdict::True => self.true_ += 1,
            Verdict::False => self.false_ += 1,
            Verdict::NotJudged => self.not_judged += 1,
        }
    }

    pub fn add(&mut self, o: &AlarmScore) {
        self.fired += o.fired;
        self.events += o.events;
        self.true_ += o.true_;
        self.false_ += o.false_;
        self.not_judged += o.not_judged;
    }
}

/// The reference prepared once per record for judging its alarms.
pub struct Judge<'a> {
    reference: &'a Reference,
    heart_rate: Vec<(f64, f64)>,
    noise: Vec<Interval>,
    af: Vec<Interval>,
    asystole: Vec<Interval>,
    vf: Vec<Interval>,
    ventricular: Vec<Interval>,
}

fn widened(v: Vec<Interval>) -> Vec<Interval> {
    merge(v.iter().map(|i| i.widened(BEFORE_S, AFTER_S)).collect())
}

fn inside(set: &[Interval], t: f64) -> bool {
    set.iter().any(|i| i.contains(t))
}

impl<'a> Judge<'a> {
    pub fn new(reference: &'a Reference) -> Judge<'a> {
        let mut af = reference.episodes(Rhythm::Af);
        af.extend(reference.episodes(Rhythm::Afl));
        let asystole = reference.episodes(Rhythm::Asystole);
        let vf = reference.episodes(Rhythm::Vf);
        let mut ventricular = reference.vt_episodes();
        ventricular.extend(&vf);
        ventricular.extend(&asystole);
        ventricular.extend(reference.ventricular_runs(3, 0.0));
        Judge {
            reference,
            heart_rate: reference.heart_rate(REFERENCE_RR),
            noise: widened(reference.episodes(Rhythm::Noise)),
            af: widened(af),
            asystole: widened(asystole),
            vf: widened(vf),
            ventricular: widened(ventricular),
        }
    }

    pub fn verdict(&self, alarm: &Alarm) -> Verdict {
        use AlarmKind::*;
        let t = alarm.fired_s;
        if alarm.kind == Technical || inside(&self.noise, t) {
            return Verdict::NotJudged;
        }
        let truth = |ok: bool| if ok { Verdict::True } else { Verdict::False };
        match alarm.kind {
            HrHigh { bpm } | TachyRun { bpm } => {
                if inside(&self.ventricular, t) || inside(&self.af, t) {
                    Verdict::True
                } else {
                    self.rate_verdict(t, |hr| hr >= bpm)
                }
            }
            HrLow { bpm } | BradyRun { bpm } => {
                if inside(&self.asystole, t) || inside(&self.vf, t) {
                    Verdict::True
                } else {
                    self.rate_verdict(t, |hr| hr <= bpm)
                }
            }
            Pause { s } => {
                if inside(&self.asystole, t) || self.in_gap(t, s) {
                    Verdict::True
                } else if self.reference.has_beat_labels() {
                    Verdict::False
                } else {
                    Verdict::NotJudged
                }
            }
            Asystole { s } => {
                truth(inside(&self.asystole, t) || inside(&self.vf, t) || self.in_gap(t, s))
            }
            Af => truth(inside(&self.af, t)),
            Vt | Vf => truth(inside(&self.ventricular, t)),
            VentricularEctopy(e) => {
                let run = matches!(e, Ectopy::Run { .. });
                if run && inside(&self.ventricular, t) {
                    Verdict::True
                } else if self.reference.has_beat_labels() {
                    truth(self.ectopy_near(e, t))
                } else {
                    Verdict::NotJudged
                }
            }
            Technical => Verdict::NotJudged,
        }
    }

    /// The reference beats show `ectopy` in the 10 s before `t` or the 2 s after it.
    fn ectopy_near(&self, ectopy: Ectopy, t: f64) -> bool {
        let window = Interval::new(t - ECTOPY_LOOKBACK_S, t + RATE_LOOKAHEAD_S);
        ectopy_times(self.reference, ectopy)
            .into_iter()
            .any(|at| window.contains(at))
    }

    /// Against the reference rate around `t`; not judged where no beats are labelled.
    fn rate_verdict(&self, t: f64, crossed: impl Fn(f64) -> bool) -> Verdict {
        let window = Interval::new(t - RATE_LOOKBACK_S, t + RATE_LOOKAHEAD_S);
        let mut rates = self
            .heart_rate
            .iter()
            .filter(|(at, _)| window.contains(*at))
            .peekable();
        if rates.peek().is_none() {
            return Verdict::NotJudged;
        }
        if rates.any(|&(_, hr)| crossed(hr)) {
            Verdict::True
        } else {
            Verdict::False
        }
    }

    /// An annotated RR interval of at least `limit_s` (less the match tolerance) holds
    /// `t`, or ended at most 2 s before it.
    fn in_gap(&self, t: f64, limit_s: f64) -> bool {
        self.reference
            .gaps(limit_s - crate::matching::MATCH_WINDOW_S)
            .iter()
            .any(|g| g.widened(0.0, RATE_LOOKAHEAD_S).contains(t))
    }
}

/// The limits of the policy under test that define the reference events for delays.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    pub hr_high_bpm: Option<f64>,
    pub hr_low_bpm: Option<f64>,
    pub pause_s: Option<f64>,
    pub asystole_s: Option<f64>,
}

/// Reference events of one kind: how many raised their alarm, and after how long.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleDelays {
    pub events: u64,
    pub alarmed: u64,
    /// Onset to the first alarm that fired within [onset − 2 s, end + 1 s], seconds.
    pub delays_s: Vec<f64>,
}

impl RuleDelays {
    pub fn add(&mut self, o: &RuleDelays) {
        self.events += o.events;
        self.alarmed += o.alarmed;
        self.delays_s.extend(&o.delays_s);
    }

    pub fn median_s(&self) -> Option<f64> {
        let mut d = self.delays_s.clone();
        d.sort_by(f64::total_cmp);
        match d.len() {
            0 => None,
            n if n % 2 == 1 => Some(d[n / 2]),
            n => Some((d[n / 2 - 1] + d[n / 2]) / 2.0),
        }
    }

    pub fn max_s(&self) -> Option<f64> {
        self.delays_s.iter().copied().reduce(f64::max)
    }
}

fn delays_for(events: &[Interval], alarms: &[&Alarm]) -> RuleDelays {
    let mut out = RuleDelays {
        events: events.len() as u64,
        ..RuleDelays::default()
    };
    for e in events {
        let window = e.widened(BEFORE_S, AFTER_S);
        if let Some(first) = alarms
            .iter()
            .map(|a| a.fired_s)
            .filter(|&t| window.contains(t))
            .reduce(f64::min)
        {
            out.alarmed += 1;
            out.delays_s.push((first - e.start).max(0.0));
        }
    }
    out
}

/// Sustained stretches (≥ 10 s, gaps < 10 s bridged) where the reference rate crossed.
fn rate_episodes(hr: &[(f64, f64)], crossed: impl Fn(f64) -> bool) -> Vec<Interval> {
    let mut raw: Vec<Interval> = Vec::new();
    let mut open: Option<Interval> = None;
    for &(t, bpm) in hr {
        match (&mut open, crossed(bpm)) {
            (Some(o), true) => o.end = t,
            (None, true) => open = Some(Interval::new(t, t)),
            (Some(_), false) => raw.extend(open.take()),
            (None, false) => {}
        }
    }
    raw.extend(open);
    let mut joined: Vec<Interval> = Vec::new();
    for i in raw {
        match joined.last_mut() {
            Some(last) if i.start - last.end < SUSTAINED_S => last.end = i.end,
            _ => joined.push(i),
        }
    }
    joined.retain(|i| i.len() >= SUSTAINED_S);
    joined
}

/// Onset-to-alarm delays per event kind: "hr_high", "hr_low", "vt", "vf", "pause"
/// (an annotated RR of at least the limit; alarmed by a pause or asystole alarm; onset =
/// the beat before it), "asystole", "af". VT and VF episodes are alarmed by either ventricular alarm (the README's rule).
pub fn delays(
    reference: &Reference,
    alarms: &[Alarm],
    limits: &Limits,
) -> Vec<(&'static str, RuleDelays)> {
    let of = |pred: &dyn Fn(&AlarmKind) -> bool| -> Vec<&Alarm> {
        alarms.iter().filter(|a| pred(&a.kind)).collect()
    };
    let hr = reference.heart_rate(REFERENCE_RR);
    let mut out = Vec::new();
    if let Some(limit) = limits.hr_high_bpm {
        let events = rate_episodes(&hr, |bpm| bpm >= limit);
        let alarms = of(&|k| matches!(k, AlarmKind::HrHigh { .. }));
        out.push(("hr_high", delays_for(&events, &alarms)));
    }
    if let Some(limit) = limits.hr_low_bpm {
        let events = rate_episodes(&hr, |bpm| bpm <= limit);
        let alarms = of(&|k| matches!(k, AlarmKind::HrLow { .. }));
        out.push(("hr_low", delays_for(&events, &alarms)));
    }
    let ventricular = of(&|k| matches!(k, AlarmKind::Vt | AlarmKind::Vf));
    out.push(("vt", delays_for(&reference.vt_episodes(), &ventricular)));
    out.push((
        "vf",
        delays_for(&reference.episodes(Rhythm::Vf), &ventricular),
    ));
    if let Some(limit) = limits.pause_s {
        // Every long RR is its own event: a pause alert still open from the previous one
        // must not hide it (issue 12: 17 of 20 pauses raised nothing).
        let events = reference.gaps(limit);
        let alarms = of(&|k| matches!(k, AlarmKind::Pause { .. } | AlarmKind::Asystole { .. }));
        out.push(("pause", delays_for(&events, &alarms)));
    }
    if let Some(limit) = limits.asystole_s {
        let mut events = reference.episodes(Rhythm::Asystole);
        events.extend(reference.gaps(limit));
        let alarms = of(&|k| matches!(k, AlarmKind::Asystole { .. }));
        out.push(("asystole", delays_for(&merge(events), &alarms)));
    }
    let af = of(&|k| matches!(k, AlarmKind::Af));
    out.push(("af", delays_for(&reference.episodes(Rhythm::Af), &af)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_wfdb::Annotation;

    fn beats_every(fs: f64, period_s: f64, from_s: f64, to_s: f64) -> Vec<Annotation> {
        let mut out = Vec::new();
        let mut t = from_s;
        while t < to_s {
            out.push(Annotation {
                sample: (t * fs) as u64,
                code: 1,
                aux: None,
            });
            t += period_s;
        }
        out
    }

    fn alarm(kind: AlarmKind, at: f64) -> Alarm {
        Alarm {
            rule: "r".into(),
            kind,
            fired_s: at,
            end_s: at + 5.0,
            events: 1,
            event_s: Vec::new(),
        }
    }

    #[test]
    fn rate_alarms_are_judged_against_the_annotated_rate() {
        // 60 bpm for 100 s, then 150 bpm for 100 s.
        let mut anns = beats_every(100.0, 1.0, 0.0, 100.0);
        anns.extend(beats_every(100.0, 0.4, 100.0, 200.0));
        let r = Reference::from_annotations(100.0, 20_000, &anns);
        let j = Judge::new(&r);
        assert_eq!(
            j.verdict(&alarm(AlarmKind::HrHigh { bpm: 120.0 }, 105.0)),
            Verdict::True
        );
        assert_eq!(
            j.verdict(&alarm(AlarmKind::HrHigh { bpm: 120.0 }, 50.0)),
            Verdict::False
        );
        assert_eq!(
            j.verdict(&alarm(AlarmKind::HrLow { bpm: 40.0 }, 50.0)),
            Verdict::False
        );
        let limits = Limits {
            hr_high_bpm: Some(120.0),
            ..Limits::default()
        };
        let fired = [alarm(AlarmKind::HrHigh { bpm: 120.0 }, 104.0)];
        let d = delays(&r, &fired, &limits);
        let (_, high) = &d[0];
        assert_eq!((high.events, high.alarmed), (1, 1));
        assert!(
            (high.median_s().expect("one") - 2.4).abs() < 0.01,
            "{high:?}"
        );
    }

    #[test]
    fn pauses_and_asystole_need_an_annotated_gap() {
        let mut anns = beats_every(100.0, 1.0, 0.0, 50.0);
        anns.extend(beats_every(100.0, 1.0, 55.0, 100.0)); // a 6 s gap from 49 to 55
        let r = Reference::from_annotations(100.0, 10_000, &anns);
        let j = Judge::new(&r);
        let asys = |at| alarm(AlarmKind::Asystole { s: 4.0 }, at);
        assert_eq!(j.verdict(&asys(53.0)), Verdict::True);
        assert_eq!(j.verdict(&asys(20.0)), Verdict::False);
        assert_eq!(
            j.verdict(&alarm(AlarmKind::Pause { s: 3.0 }, 56.5)),
            Verdict::True
        );
        assert_eq!(
            j.verdict(&alarm(AlarmKind::Pause { s: 3.0 }, 60.0)),
            Verdict::False
        );
    }

    #[test]
    fn rhythm_alarms_against_episodes_and_noise_is_not_judged() {
        let rhythm = |s: u64, text: &str| Annotation {
            sample: s,
            code: 28,
            aux: Some(text.into()),
        };
        let anns = [
            rhythm(0, "(N"),
            rhythm(1000, "(VT"),
            rhythm(2000, "(NOISE"),
            rhythm(3000, "(AFIB"),
            rhythm(4000, "(N"),
        ];
        let r = Reference::from_annotations(100.0, 6000, &anns);
        let j = Judge::new(&r);
        assert_eq!(
            j.verdict(&alarm(AlarmKind::Vf, 9.0)),
            Verdict::True,
            "2 s early"
        );
        assert_eq!(j.verdict(&alarm(AlarmKind::Vt, 50.0)), Verdict::False);
        assert_eq!(
            j.verdict(&alarm(AlarmKind::VentricularEctopy(Ectopy::Couplet), 50.0)),
            Verdict::NotJudged,
            "no labelled beats"
        );
        let run = AlarmKind::VentricularEctopy(Ectopy::Run { beats: 3 });
        assert_eq!(j.verdict(&alarm(run, 15.0)), Verdict::True, "in VT");
        assert_eq!(j.verdict(&alarm(AlarmKind::Vt, 25.0)), Verdict::NotJudged);
        assert_eq!(j.verdict(&alarm(AlarmKind::Af, 35.0)), Verdict::True);
        assert_eq!(j.verdict(&alarm(AlarmKind::Af, 5.0)), Verdict::False);
        assert_eq!(
            j.verdict(&alarm(AlarmKind::HrHigh { bpm: 120.0 }, 50.0)),
            Verdict::NotJudged,
            "no labelled beats"
        );
        let d = delays(&r, &[alarm(AlarmKind::Vt, 12.0)], &Limits::default());
        let vt = &d.iter().find(|(k, _)| *k == "vt").expect("vt").1;
        assert_eq!(vt.delays_s, vec![2.0]);
    }

    /// Beats from a pattern (V, N, or F), 0.8 s apart from 1 s, at 100 Hz.
    fn labelled(pattern: &str) -> Reference {
        let anns: Vec<Annotation> = pattern
            .chars()
            .enumerate()
            .map(|(i, c)| Annotation {
                sample: 100 + i as u64 * 80,
                code: match c {
                    'V' => 5,
                    'F' => 6,
                    _ => 1,
                },
                aux: None,
            })
            .collect();
        Reference::from_annotations(100.0, 100 + pattern.len() as u64 * 80, &anns)
    }

    #[test]
    fn ectopy_alarms_are_true_only_where_the_reference_shows_their_pattern() {
        // 20 N, a couplet at beats 20-21 (17, 17.8 s), 20 N, bigeminy for 5 cycles from
        // beat 42 (34.6 s), 40 N.
        let beats = format!(
            "{}VV{}{}{}",
            "N".repeat(20),
            "N".repeat(20),
            "VN".repeat(5),
            "N".repeat(40)
        );
        let r = labelled(&beats);
        let j = Judge::new(&r);
        let judge = |e, at| j.verdict(&alarm(AlarmKind::VentricularEctopy(e), at));
        assert_eq!(judge(Ectopy::Couplet, 19.0), Verdict::True);
        assert_eq!(judge(Ectopy::Couplet, 5.0), Verdict::False);
        assert_eq!(judge(Ectopy::Couplet, 36.0), Verdict::False, "bigeminy");
        let bigeminy = |cycles| Ectopy::Pattern { period: 2, cycles };
        assert_eq!(judge(bigeminy(4), 42.0), Verdict::True);
        assert_eq!(judge(bigeminy(6), 42.0), Verdict::False, "5 cycles only");
        assert_eq!(
            judge(
                Ectopy::Pattern {
                    period: 3,
                    cycles: 2
                },
                42.0
            ),
            Verdict::False
        );
        assert_eq!(judge(Ectopy::Run { beats: 3 }, 19.0), Verdict::False);
        // 7 V beats within a minute: the limit 7 is shown, 8 is not.
        assert_eq!(judge(Ectopy::PerMinute { limit: 7 }, 45.0), Verdict::True);
        assert_eq!(judge(Ectopy::PerMinute { limit: 8 }, 45.0), Verdict::False);
        // A fusion beat is neither V nor conducted: it breaks a pattern.
        let r = labelled(&format!("{}VNVNFNVNVN{}", "N".repeat(10), "N".repeat(10)));
        let j = Judge::new(&r);
        let alarm = alarm(AlarmKind::VentricularEctopy(bigeminy(4)), 18.0);
        assert_eq!(j.verdict(&alarm), Verdict::False);
    }
}
