//! Bounded silences. A doctor may snooze one medium or low alert (`Alert.snooze`), and a
//! user may snooze all their pages (`NotifyPreferences.snooze_until_ns`). Either way the
//! notifier then pages in-app only, and only while the silence is within its bound: a
//! snooze always ends, and one longer than the notifier's `max_snooze_s` is ignored.

use crate::time::Nanos;
use serde::{Deserialize, Serialize};

/// Whether a silence from `from` (when it was set, or `now` when unknown) until `until`
/// is in force at `now` and no longer than `max_ns`.
pub fn honoured(from: Nanos, until: Nanos, now: Nanos, max_ns: Nanos) -> bool {
    until > now && until - from.min(now) <= max_ns
}

/// One alert's snooze: who, why, until when. While it holds the notifier pages nobody
/// new for the alert (in-app only, no escalation) and its ack-deadline clock stands
/// still, so escalation resumes where it was when the snooze ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertSnooze {
    pub at_ns: Nanos,
    pub until_ns: Nanos,
    pub by: String,
    pub reason: String,
    /// Time the alert spent under earlier snoozes this one replaced (their clocks stood
    /// still too).
    #[serde(default)]
    pub earlier_ns: Nanos,
}

impl AlertSnooze {
    /// A new snooze from `now`, carrying over the paused time of the one it replaces.
    pub fn replacing(
        previous: Option<&AlertSnooze>,
        now: Nanos,
        until_ns: Nanos,
        by: &str,
        reason: &str,
    ) -> Self {
        Self {
            at_ns: now,
            until_ns,
            by: by.to_owned(),
            reason: reason.to_owned(),
            earlier_ns: previous.map_or(0, |p| p.paused_ns(now)),
        }
    }

    /// How long the alert's ack-deadline clock has stood still by `now`.
    pub fn paused_ns(&self, now: Nanos) -> Nanos {
        self.earlier_ns + (now.min(self.until_ns) - self.at_ns).max(0)
    }

    pub fn honoured(&self, now: Nanos, max_ns: Nanos) -> bool {
        honoured(self.at_ns, self.until_ns, now, max_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snooze_holds_until_its_end_and_only_within_the_bound() {
        let s = AlertSnooze::replacing(None, 100, 200, "dr", "r");
        assert!(s.honoured(150, 100));
        assert!(!s.honoured(200, 100), "over at its end");
        assert!(!s.honoured(150, 99), "longer than the bound: ignored");
    }

    #[test]
    fn paused_time_stops_at_the_end_and_carries_over_replaced_snoozes() {
        let first = AlertSnooze::replacing(None, 100, 200, "dr", "r");
        assert_eq!(first.paused_ns(150), 50);
        assert_eq!(first.paused_ns(1_000), 100);
        let second = AlertSnooze::replacing(Some(&first), 150, 300, "dr", "r");
        assert_eq!(second.paused_ns(150), 50);
        assert_eq!(second.paused_ns(400), 200);
    }
}
