//! Which alert state a live view has already been told, per alert. Two sources report
//! states — the engine's events (fast, may drop) and a poll of the store (complete, every
//! `alert_poll_ms`, and the only source of acks made by SMS, call or another api replica) —
//! in any order. States only move forward (firing → acknowledged → resolved), so
//! a report is news exactly when it is ahead of what was told: each change goes out once,
//! and a stale snapshot can never move a view backwards.
//!
//! The worklist socket (`GET /v1/alerts/live`) also needs the changes that leave the state
//! as it is — a snooze, a triage verdict, an "escalate now", a longer episode — and asks
//! [`AlertStates::revised`] with each record the store poll reads: the store is the only
//! source of those, and the poll reads it in order, so its record is never older than
//! the one told.

use cw_core::{Alert, AlertId, AlertState};
use std::collections::HashMap;

fn rank(state: AlertState) -> u8 {
    match state {
        AlertState::Firing => 0,
        AlertState::Acknowledged => 1,
        AlertState::Resolved => 2,
    }
}

#[derive(Default)]
pub struct AlertStates {
    /// Alert → (the record told, polls since it was resolved).
    told: HashMap<AlertId, (Alert, u32)>,
}

impl AlertStates {
    /// Records a report; `true` when it is news (to be sent).
    pub fn report(&mut self, alert: &Alert) -> bool {
        match self.told.get(&alert.id) {
            Some((told, _)) if rank(told.state) >= rank(alert.state) => false,
            _ => {
                self.told.insert(alert.id.clone(), (alert.clone(), 0));
                true
            }
        }
    }

    /// Records a record read from the store; `true` when it is news: a state ahead of
    /// the one told (as [`Self::report`]), or the same state with another record (snoozed,
    /// triaged, escalated, its episode grown).
    pub fn revised(&mut self, alert: &Alert) -> bool {
        match self.told.get_mut(&alert.id) {
            Some((told, _)) if told.state == alert.state => {
                if told == alert {
                    return false;
                }
                *told = alert.clone();
                true
            }
            _ => self.report(alert),
        }
    }

    /// Alerts told as open (firing or acknowledged) that are missing from an open-alert
    /// snapshot: they were resolved (read them back to tell).
    pub fn vanished(&self, open: &[&Alert]) -> Vec<AlertId> {
        self.told
            .iter()
            .filter(|(id, (told, _))| {
                told.state != AlertState::Resolved && !open.iter().any(|a| &a.id == *id)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// After each poll: resolved alerts are forgotten two polls later (a snapshot taken
    /// before the resolve can no longer arrive), so the map stays as small as the open set.
    pub fn age(&mut self) {
        self.told.retain(|_, (told, polls)| {
            if told.state == AlertState::Resolved {
                *polls += 1;
                *polls <= 2
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{PatientId, Priority, RuleKind};

    fn alert(id: &AlertId, state: AlertState) -> Alert {
        Alert {
            id: id.clone(),
            state,
            policy_version: 1,
            ..Alert::firing(
                PatientId::parse("p").expect("valid"),
                RuleKind::HrHigh,
                Priority::High,
                0,
            )
        }
    }

    #[test]
    fn each_state_is_told_once_and_never_backwards() {
        let id = AlertId::random();
        let mut states = AlertStates::default();
        assert!(states.report(&alert(&id, AlertState::Firing)));
        assert!(
            !states.report(&alert(&id, AlertState::Firing)),
            "poll repeats the event"
        );
        assert!(states.report(&alert(&id, AlertState::Acknowledged)));
        assert!(states.report(&alert(&id, AlertState::Resolved)));
        assert!(
            !states.report(&alert(&id, AlertState::Firing)),
            "a stale snapshot does not reopen it"
        );
        // A resolve that skipped the ack is still news.
        let other = AlertId::random();
        assert!(states.report(&alert(&other, AlertState::Resolved)));
    }

    #[test]
    fn a_changed_record_in_the_same_state_is_news_once_and_an_older_state_never() {
        let id = AlertId::random();
        let mut states = AlertStates::default();
        let firing = alert(&id, AlertState::Firing);
        assert!(states.revised(&firing));
        assert!(!states.revised(&firing), "the same record twice");
        let triaged = Alert {
            triage: Some(Box::new(cw_core::triage::Triage {
                verdict: cw_core::triage::Verdict::Artifact,
                note: None,
                by: "dr".into(),
                at_ns: 1,
            })),
            ..firing.clone()
        };
        assert!(states.revised(&triaged), "a verdict is news");
        assert!(!states.revised(&triaged));
        assert!(
            !states.report(&firing),
            "an event in the same state is no news"
        );
        assert!(states.revised(&alert(&id, AlertState::Acknowledged)));
        assert!(!states.revised(&triaged), "never backwards");
    }

    #[test]
    fn an_open_alert_missing_from_the_snapshot_has_vanished_and_resolved_ones_age_out() {
        let (a, b) = (AlertId::random(), AlertId::random());
        let mut states = AlertStates::default();
        states.report(&alert(&a, AlertState::Firing));
        states.report(&alert(&b, AlertState::Acknowledged));
        let still = alert(&b, AlertState::Acknowledged);
        assert_eq!(states.vanished(&[&still]), vec![a.clone()]);
        states.report(&alert(&a, AlertState::Resolved));
        assert!(states.vanished(&[&still]).is_empty());
        for _ in 0..3 {
            states.age();
        }
        assert!(
            states.report(&alert(&a, AlertState::Resolved)),
            "forgotten after two polls"
        );
    }
}
