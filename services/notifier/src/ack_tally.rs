//! Every acknowledgement counts once in `cw_notifier_time_to_ack_seconds`, whoever made
//! it. Acks by SMS reply or key press pass through this notifier's webhooks; acks through
//! the api's REST route (or another notifier replica's webhooks) only show in the store,
//! where the sweep sees them as open alerts now `acknowledged` — the same way `drive`
//! learns to stop paging. Both paths claim the alert here first, so a webhook ack the
//! next sweep also sees is not counted twice.
//!
//! Limits: an alert acknowledged *and* resolved between two sweeps (`sweep_interval_ms`)
//! is not seen by the sweep; acks from before this process started are not counted
//! (the histogram starts empty with the process, like every Prometheus metric); with N
//! notifier replicas each replica counts every ack it sees (one replica's histogram is
//! the whole distribution — do not sum across replicas).

use cw_core::time::{Nanos, now_ns};
use cw_core::{Alert, AlertId, AlertState};
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

pub struct AckTally {
    started_ns: Nanos,
    /// Acknowledged alerts already counted that are still open.
    counted: Mutex<HashSet<AlertId>>,
}

impl Default for AckTally {
    fn default() -> Self {
        Self {
            started_ns: now_ns(),
            counted: Mutex::new(HashSet::new()),
        }
    }
}

impl AckTally {
    /// True the first time an alert's ack is claimed for counting.
    pub fn claim(&self, alert: &AlertId) -> bool {
        self.counted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(alert.clone())
    }

    /// Acks in an open-alert snapshot not counted yet (claimed now); alerts that left the
    /// open set are forgotten, so the set stays as small as the open alerts.
    pub fn unseen<'a>(&self, open: &'a [Alert]) -> Vec<&'a Alert> {
        let mut counted = self.counted.lock().unwrap_or_else(PoisonError::into_inner);
        counted.retain(|id| open.iter().any(|a| &a.id == id));
        open.iter()
            .filter(|a| {
                a.state == AlertState::Acknowledged
                    && a.acked_ns.is_some_and(|at| at >= self.started_ns)
            })
            .filter(|a| counted.insert(a.id.clone()))
            .collect()
    }
}

/// Seconds from firing to the ack, for the histogram.
pub fn seconds_to_ack(alert: &Alert) -> Option<f64> {
    alert
        .acked_ns
        .map(|at| (at - alert.fired_ns).max(0) as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{PatientId, Priority, RuleKind};

    fn alert(state: AlertState, acked_ns: Option<Nanos>) -> Alert {
        Alert {
            state,
            acked_ns,
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
    fn each_ack_is_counted_once_by_whichever_path_sees_it_first() {
        let tally = AckTally::default();
        let later = now_ns() + 1;
        let by_rest = alert(AlertState::Acknowledged, Some(later));
        let by_sms = alert(AlertState::Acknowledged, Some(later));
        let firing = alert(AlertState::Firing, None);
        let before_start = alert(AlertState::Acknowledged, Some(tally.started_ns - 1));
        assert!(tally.claim(&by_sms.id), "the webhook counts its ack");
        let open = vec![by_rest.clone(), by_sms.clone(), firing, before_start];
        let unseen: Vec<_> = tally
            .unseen(&open)
            .into_iter()
            .map(|a| a.id.clone())
            .collect();
        assert_eq!(unseen, vec![by_rest.id.clone()], "only the REST ack is new");
        assert!(
            tally.unseen(&open).is_empty(),
            "the next sweep counts nothing"
        );
        // Resolved (gone from the open set): forgotten.
        tally.unseen(&[]);
        assert!(tally.claim(&by_rest.id));
    }
}
