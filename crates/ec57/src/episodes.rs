//! Episode and duration statistics in the manner of ANSI/AAMI EC38/EC57 (the `epicmp`
//! method of the WFDB software):
//!
//! - episode sensitivity: reference episodes detected / reference episodes;
//! - episode positive predictivity: alarm episodes that were true / alarm episodes;
//! - duration sensitivity: reference time covered by alarm episodes / reference time;
//! - duration positive predictivity: alarm time inside reference episodes / alarm time.
//!
//! Both positive predictivities leave out the reference time `excluded` (for AF, atrial
//! flutter, as `epic` does: docs/clinical-performance.md, "Atrial flutter in AF scoring").
//!
//! EC38 counts any overlap as a detection ([`Matching::Overlap`], used for AF). For
//! VT/VF an alarm that was already open when an episode began must not count for it, so
//! there an episode is detected only by an alarm that *fires* within [onset − 2 s,
//! end + 1 s] ([`Matching::FiresWithin`], the rule of `../shared/data/README.md`).

/// A time interval in seconds from the record start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub start: f64,
    pub end: f64,
}

impl Interval {
    pub fn new(start: f64, end: f64) -> Interval {
        Interval { start, end }
    }

    pub fn len(&self) -> f64 {
        (self.end - self.start).max(0.0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0.0
    }

    pub fn contains(&self, t: f64) -> bool {
        self.start <= t && t <= self.end
    }

    pub fn overlap(&self, other: &Interval) -> f64 {
        (self.end.min(other.end) - self.start.max(other.start)).max(0.0)
    }

    /// Overlap in the closed sense: touching intervals count (an alarm of zero length
    /// inside an episode still overlaps it).
    pub fn meets(&self, other: &Interval) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    pub fn widened(&self, before_s: f64, after_s: f64) -> Interval {
        Interval::new(self.start - before_s, self.end + after_s)
    }
}

/// Sorted, with overlapping or touching intervals joined.
pub fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut out: Vec<Interval> = Vec::with_capacity(intervals.len());
    for i in intervals {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

/// Total length of `a` inside the union of `b`.
pub fn covered(a: &[Interval], b: &[Interval]) -> f64 {
    let b = merge(b.to_vec());
    a.iter()
        .map(|x| b.iter().map(|y| x.overlap(y)).sum::<f64>())
        .sum()
}

/// When an alarm counts as detecting a reference episode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Matching {
    /// Any overlap of the alarm's open interval with the episode (EC38).
    Overlap,
    /// The alarm fires within [onset − before_s, end + after_s].
    FiresWithin { before_s: f64, after_s: f64 },
}

impl Matching {
    /// The README's VT/VF rule.
    pub const VENTRICULAR: Matching = Matching::FiresWithin {
        before_s: 2.0,
        after_s: 1.0,
    };

    fn hits(self, alarm: &Interval, episode: &Interval) -> bool {
        match self {
            Self::Overlap => alarm.meets(episode),
            Self::FiresWithin { before_s, after_s } => {
                episode.widened(before_s, after_s).contains(alarm.start)
            }
        }
    }
}

/// Counts behind the four episode statistics; gross = the sums over records.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpisodeScore {
    pub episodes: u64,
    pub detected: u64,
    pub alarms: u64,
    pub true_alarms: u64,
    pub reference_s: f64,
    pub alarm_s: f64,
    /// Episodes detected, or whose onset an already open alert of a detecting rule
    /// counted as one more event within the same window (issue 12 item 5; EC38's
    /// overlap rule counts these too): the second way of scoring VT and VF.
    pub detected_or_counted: u64,
    /// Reference time covered by alarms (= alarm time inside reference episodes).
    pub overlap_s: f64,
}

/// What one episode statistic compares.
pub struct EpisodeInput<'a> {
    /// The annotated episodes to find.
    pub reference: &'a [Interval],
    /// Alarms that count as detecting them (their open intervals, start = fire time).
    pub detecting: &'a [Interval],
    /// When those alarms' open alerts counted another event (seconds).
    pub detecting_events: &'a [f64],
    /// The rule's own alarms, whose truth and time give +P and duration +P.
    pub own: &'a [Interval],
    /// Where an alarm of this rule is not false (the reference, or wider).
    pub allowed: &'a [Interval],
    /// Reference time left out of the positive predictivities (EC38 leaves reference
    /// atrial flutter out of AF's, as the WFDB `epic` program does): an alarm wholly
    /// inside it is neither true nor false, and alarm time inside it is not alarm time.
    pub excluded: &'a [Interval],
    pub matching: Matching,
}

impl EpisodeScore {
    pub fn compute(input: &EpisodeInput<'_>) -> EpisodeScore {
        let m = input.matching;
        let is_detected = |e: &Interval| input.detecting.iter().any(|a| m.hits(a, e));
        let detected = input.reference.iter().filter(|e| is_detected(e)).count() as u64;
        let counted = |e: &Interval| {
            input
                .detecting_events
                .iter()
                .any(|&t| m.hits(&Interval::new(t, t), e))
        };
        let detected_or_counted = input
            .reference
            .iter()
            .filter(|e| is_detected(e) || counted(e))
            .count() as u64;
        let excluded = merge(input.excluded.to_vec());
        let judged: Vec<&Interval> = input
            .own
            .iter()
            .filter(|a| {
                !excluded
                    .iter()
                    .any(|x| x.start <= a.start && a.end <= x.end)
            })
            .collect();
        let true_alarms = judged
            .iter()
            .filter(|a| input.allowed.iter().any(|e| m.hits(a, e)))
            .count() as u64;
        let own = merge(input.own.to_vec());
        let own_s: f64 = own.iter().map(Interval::len).sum();
        EpisodeScore {
            episodes: input.reference.len() as u64,
            detected,
            detected_or_counted,
            alarms: judged.len() as u64,
            true_alarms,
            reference_s: input.reference.iter().map(Interval::len).sum(),
            alarm_s: own_s - covered(&own, &excluded),
            overlap_s: covered(input.reference, &own),
        }
    }

    pub fn add(&mut self, o: &EpisodeScore) {
        self.episodes += o.episodes;
        self.detected += o.detected;
        self.detected_or_counted += o.detected_or_counted;
        self.alarms += o.alarms;
        self.true_alarms += o.true_alarms;
        self.reference_s += o.reference_s;
        self.alarm_s += o.alarm_s;
        self.overlap_s += o.overlap_s;
    }

    pub fn se(&self) -> Option<f64> {
        percent(self.detected as f64, self.episodes as f64)
    }

    /// Episode sensitivity counting events inside open alerts (`detected_or_counted`).
    pub fn se_counted(&self) -> Option<f64> {
        percent(self.detected_or_counted as f64, self.episodes as f64)
    }

    pub fn ppv(&self) -> Option<f64> {
        percent(self.true_alarms as f64, self.alarms as f64)
    }

    pub fn duration_se(&self) -> Option<f64> {
        percent(self.overlap_s, self.reference_s)
    }

    pub fn duration_ppv(&self) -> Option<f64> {
        percent(self.overlap_s, self.alarm_s)
    }
}

/// 100·num/den, None when there is nothing to divide by (EC57 prints "-").
pub fn percent(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| 100.0 * num / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(a: f64, b: f64) -> Interval {
        Interval::new(a, b)
    }

    #[test]
    fn merge_joins_overlapping_and_touching() {
        assert_eq!(
            merge(vec![iv(5.0, 6.0), iv(0.0, 2.0), iv(2.0, 3.0), iv(1.0, 1.5)]),
            vec![iv(0.0, 3.0), iv(5.0, 6.0)]
        );
    }

    #[test]
    fn overlap_scoring_as_ec38() {
        let reference = [iv(10.0, 20.0), iv(100.0, 110.0)];
        let alarms = [iv(15.0, 25.0), iv(50.0, 55.0)];
        let s = EpisodeScore::compute(&EpisodeInput {
            reference: &reference,
            detecting: &alarms,
            detecting_events: &[],
            own: &alarms,
            allowed: &reference,
            excluded: &[],
            matching: Matching::Overlap,
        });
        assert_eq!(
            (s.episodes, s.detected, s.alarms, s.true_alarms),
            (2, 1, 2, 1)
        );
        assert_eq!(s.se(), Some(50.0));
        assert_eq!(s.ppv(), Some(50.0));
        assert_eq!(s.duration_se(), Some(25.0)); // 5 of 20 s
        assert_eq!(s.duration_ppv(), Some(100.0 * 5.0 / 15.0)); // 5 of 15 s
    }

    #[test]
    fn an_alarm_already_open_does_not_detect_a_later_episode() {
        let reference = [iv(10.0, 20.0), iv(30.0, 40.0)];
        let alarms = [iv(9.0, 45.0)];
        let s = EpisodeScore::compute(&EpisodeInput {
            reference: &reference,
            detecting: &alarms,
            detecting_events: &[],
            own: &alarms,
            allowed: &reference,
            excluded: &[],
            matching: Matching::VENTRICULAR,
        });
        assert_eq!((s.detected, s.true_alarms), (1, 1));
        assert_eq!(s.duration_se(), Some(100.0));
        assert_eq!(s.detected_or_counted, 1);
    }

    #[test]
    fn an_event_counted_inside_the_open_alert_is_the_second_way_of_scoring() {
        let reference = [iv(10.0, 20.0), iv(30.0, 40.0), iv(60.0, 61.0)];
        let alarms = [iv(9.0, 65.0)];
        // The open alert counted the second episode at 31 s, nothing near the third.
        let s = EpisodeScore::compute(&EpisodeInput {
            reference: &reference,
            detecting: &alarms,
            detecting_events: &[31.0, 50.0],
            own: &alarms,
            allowed: &reference,
            excluded: &[],
            matching: Matching::VENTRICULAR,
        });
        assert_eq!((s.detected, s.detected_or_counted), (1, 2));
        assert_eq!(s.se_counted(), Some(200.0 / 3.0));
    }

    #[test]
    fn flutter_is_left_out_of_the_positive_predictivities_as_ec38_does() {
        let af = [iv(100.0, 200.0)];
        let flutter = [iv(200.0, 300.0), iv(400.0, 450.0)];
        // Over AF into flutter; wholly in flutter; partly in flutter, no AF.
        let alarms = [iv(150.0, 250.0), iv(410.0, 440.0), iv(350.0, 420.0)];
        let s = EpisodeScore::compute(&EpisodeInput {
            reference: &af,
            detecting: &alarms,
            detecting_events: &[],
            own: &alarms,
            allowed: &af,
            excluded: &flutter,
            matching: Matching::Overlap,
        });
        assert_eq!((s.detected, s.alarms, s.true_alarms), (1, 2, 1));
        // Alarm time 100 + 30 + 70 s, of which 50 + 30 + 20 s in flutter.
        assert_eq!(s.alarm_s, 100.0);
        assert_eq!(s.duration_ppv(), Some(50.0));
        assert_eq!(s.duration_se(), Some(50.0));
    }

    #[test]
    fn nothing_to_score_is_undefined_not_zero() {
        let s = EpisodeScore::default();
        assert_eq!((s.se(), s.ppv()), (None, None));
    }
}
