//! An alert's episode: every qualifying event while the alert was open (issue 12 item 5,
//! docs/architecture.md "Episodes"), and the one sentence a doctor reads about it
//! ("17 pauses, longest 5.7 s"). Pure.

use crate::RuleKind;
use crate::time::Nanos;
use serde::{Deserialize, Serialize};

/// The events of one alert's episode: how many, the first and last (sample time), and
/// the worst value (the highest, or the lowest for rules where lower is worse).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Episode {
    pub count: u32,
    pub first_ns: Nanos,
    pub last_ns: Nanos,
    #[serde(deserialize_with = "crate::messages::f32_null_as_nan")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f32>))]
    pub worst: f32,
}

impl Episode {
    /// The episode of a rule that just fired at `at` with `value`.
    pub fn first(at: Nanos, value: f32) -> Self {
        Self {
            count: 1,
            first_ns: at,
            last_ns: at,
            worst: value,
        }
    }

    /// One more event of `rule` at `at` with `value`.
    pub fn add(&mut self, rule: RuleKind, at: Nanos, value: f32) {
        if self.count == 0 {
            *self = Self::first(at, value);
            return;
        }
        self.count = self.count.saturating_add(1);
        self.last_ns = at;
        self.worsen(rule, value);
    }

    /// A value seen during an event already counted: keeps it if it is worse.
    pub fn worsen(&mut self, rule: RuleKind, value: f32) {
        let worse = if rule.info().lower_is_worse {
            value < self.worst
        } else {
            value > self.worst
        };
        if worse {
            self.worst = value;
        }
    }

    /// What a doctor reads: how many events and the worst, in the rule's words and unit
    /// (`RuleKind::info`), e.g. "17 pauses, longest 5.7 s" or "1 VT run, 182 bpm". None
    /// for an alert stored before episodes were recorded (count 0).
    pub fn summary(&self, rule: RuleKind) -> Option<String> {
        let info = rule.info();
        let (one, many) = info.event;
        let counted = match self.count {
            0 => return None,
            1 => format!("1 {one}"),
            n => format!("{n} {many}"),
        };
        let Some(word) = info.worst.filter(|_| self.worst.is_finite()) else {
            return Some(counted);
        };
        let value = rule.reading(self.worst);
        Some(match self.count {
            1 => format!("{counted}, {value}"),
            _ => format!("{counted}, {word} {value}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_episode_keeps_the_worst_value_in_the_rules_direction() {
        let mut pauses = Episode::first(0, 3.2);
        pauses.add(RuleKind::Pause, 10, 5.7);
        pauses.add(RuleKind::Pause, 20, 3.4);
        assert_eq!((pauses.count, pauses.last_ns, pauses.worst), (3, 20, 5.7));
        let mut slow = Episode::first(0, 38.0);
        slow.add(RuleKind::HrLow, 10, 31.0);
        slow.worsen(RuleKind::HrLow, 35.0);
        assert_eq!(slow.worst, 31.0);
    }

    #[test]
    fn a_summary_says_how_many_and_the_worst_in_the_rules_words_and_unit() {
        let mut pauses = Episode::first(0, 3.2);
        for (k, rr) in [5.7, 3.4, 3.3].into_iter().enumerate() {
            pauses.add(RuleKind::Pause, k as Nanos + 1, rr);
        }
        assert_eq!(
            pauses.summary(RuleKind::Pause).as_deref(),
            Some("4 pauses, longest 5.7 s")
        );
        let mut slow = Episode::first(0, 38.4);
        slow.add(RuleKind::HrLow, 1, 31.2);
        assert_eq!(
            slow.summary(RuleKind::HrLow).as_deref(),
            Some("2 low heart rate episodes, slowest 31 bpm")
        );
        let vt = Episode::first(0, 181.6);
        assert_eq!(
            vt.summary(RuleKind::VentricularTachycardia).as_deref(),
            Some("1 VT run, 182 bpm")
        );
        let mut af = Episode::first(0, 0.31);
        af.add(RuleKind::AtrialFibrillation, 1, 0.4);
        assert_eq!(
            af.summary(RuleKind::AtrialFibrillation).as_deref(),
            Some("2 AF episodes"),
            "an irregularity index means nothing to a reader"
        );
        let unknown = Episode::first(0, f32::NAN);
        assert_eq!(unknown.summary(RuleKind::Pause).as_deref(), Some("1 pause"));
        assert_eq!(Episode::default().summary(RuleKind::Pause), None);
    }

    #[test]
    fn every_rule_names_its_events() {
        for rule in RuleKind::ALL {
            let text = Episode::first(0, 1.0).summary(rule).expect("counted");
            assert!(text.starts_with("1 ") && text.len() > 4, "{rule:?}: {text}");
        }
    }
}
