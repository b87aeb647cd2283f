//! Making rule decisions durable and known: store first, then push (DESIGN §2).

use crate::fire_trace::{BlockStamps, FireTiming, FireTrace};
use crate::metrics::EngineMetrics;
use cw_analysis::RuleEvent;
use cw_bus::Pusher;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{
    Alert, AlertEvent, AlertEventKind, AlertId, Episode, PatientId, RuleKind, ThresholdPolicy,
};
use cw_storage::{EngineRecords, OpenAlertOutcome};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Actions {
    pub records: Arc<dyn EngineRecords>,
    pub pusher: Pusher,
    pub metrics: Arc<EngineMetrics>,
    /// Stage timings of fires (`fire_trace.rs`).
    pub trace: Arc<FireTrace>,
    pub strip_padding_s: u32,
    /// Alert state for live views (best effort, after the push).
    pub live: crate::live_events::LiveEvents,
}

/// Whether the rule's state machine may keep its new state.
pub enum Applied {
    Done,
    /// Storing the alert failed: the rule starts over so it fires again.
    RetryFire(RuleKind),
    /// Resolving failed: the rule stays firing so it resolves again.
    RetryResolve(RuleKind),
}

/// A fire turned into its alert, waiting to be stored with the others queued with it.
pub struct PendingFire {
    pub patient: PatientId,
    pub alert: Alert,
    pub stamps: BlockStamps,
    /// When the writer took the event off its queue.
    pub dequeued_ns: Nanos,
}

impl Actions {
    /// The alert a fire opens, stamped with the policy that decided it.
    pub fn pending_fire(
        &self,
        patient: &PatientId,
        policy: &ThresholdPolicy,
        (rule, started_ns, at, value): (RuleKind, Nanos, Nanos, f32),
        stamps: BlockStamps,
    ) -> PendingFire {
        let (limit, priority) = (policy.limit_of(rule), policy.priority_of(rule));
        let pad = i64::from(self.strip_padding_s) * NANOS_PER_SEC;
        let alert = Alert {
            started_ns,
            value,
            limit,
            policy_version: policy.version,
            window_start_ns: started_ns - pad,
            window_end_ns: at + pad,
            episode: Episode::first(at, value),
            ..Alert::firing(patient.clone(), rule, priority, at)
        };
        PendingFire {
            patient: patient.clone(),
            alert,
            stamps,
            dequeued_ns: now_ns(),
        }
    }

    /// Stores the fires in one batch (one commit on the embedded store), then pushes the
    /// created ones in the order they were decided: store first, then push. Returns what
    /// each fire's rule may keep, in the same order.
    pub async fn open_batch(
        &self,
        fires: Vec<PendingFire>,
        open: &mut HashMap<(PatientId, RuleKind), AlertId>,
    ) -> Vec<(PatientId, Applied)> {
        if fires.is_empty() {
            return Vec::new();
        }
        let alerts: Vec<Alert> = fires.iter().map(|f| f.alert.clone()).collect();
        let outcomes = self.records.open_alert_batch(&alerts).await;
        let stored_ns = now_ns();
        let mut applied = Vec::with_capacity(fires.len());
        for (fire, outcome) in fires.into_iter().zip(outcomes) {
            let PendingFire {
                patient,
                alert,
                stamps,
                dequeued_ns,
            } = fire;
            let rule = alert.rule;
            let result = match outcome {
                Ok(OpenAlertOutcome::Created) => {
                    tracing::info!(alert = %alert.id, patient = %patient, rule = rule.as_str(), value = alert.value, "alert fired");
                    open.insert((patient.clone(), rule), alert.id.clone());
                    self.metrics.alerts_fired.inc();
                    let (id, at) = (alert.id.clone(), alert.fired_ns);
                    self.push(AlertEventKind::Fired, alert, stamps.received_ns)
                        .await;
                    self.trace.record(FireTiming {
                        patient: patient.clone(),
                        alert: id,
                        sample_ns: at,
                        block: stamps,
                        dequeued_ns,
                        stored_ns,
                        pushed_ns: now_ns(),
                    });
                    Applied::Done
                }
                Ok(OpenAlertOutcome::AlreadyOpen(existing)) => {
                    // Another engine instance or an earlier run opened it: adopt, no push.
                    open.insert((patient.clone(), rule), existing.id);
                    Applied::Done
                }
                Err(e) => {
                    self.metrics.store_errors.inc();
                    tracing::error!(patient = %patient, rule = rule.as_str(), error = %e, "could not store alert; will retry");
                    Applied::RetryFire(rule)
                }
            };
            applied.push((patient, result));
        }
        applied
    }

    pub async fn apply(
        &self,
        patient: &PatientId,
        policy: &ThresholdPolicy,
        event: RuleEvent,
        open: &mut HashMap<(PatientId, RuleKind), AlertId>,
        stamps: BlockStamps,
    ) -> Applied {
        match event {
            RuleEvent::Fire {
                rule,
                started_ns,
                at,
                value,
            } => {
                let fire =
                    self.pending_fire(patient, policy, (rule, started_ns, at, value), stamps);
                self.open_batch(vec![fire], open)
                    .await
                    .pop()
                    .map_or(Applied::Done, |(_, applied)| applied)
            }
            RuleEvent::Episode { rule, episode, .. } => {
                let Some(id) = open.get(&(patient.clone(), rule)).cloned() else {
                    return Applied::Done;
                };
                // Each episode carries every event so far, so a failed write is repaired
                // by the next one (or the one the resolve brings): nothing to retry.
                match self.records.record_episode(&id, &episode).await {
                    Ok(_) => {
                        tracing::info!(alert = %id, patient = %patient, rule = rule.as_str(), events = episode.count, worst = episode.worst, "alert episode recorded");
                    }
                    Err(e) => {
                        self.metrics.store_errors.inc();
                        tracing::warn!(alert = %id, error = %e, "could not record the alert's episode; the next one carries it");
                    }
                }
                Applied::Done
            }
            RuleEvent::Resolve { rule, at } => {
                let Some(id) = open.get(&(patient.clone(), rule)).cloned() else {
                    return Applied::Done;
                };
                match self.records.resolve_alert(&id, at).await {
                    Ok(alert) => {
                        open.remove(&(patient.clone(), rule));
                        tracing::info!(alert = %id, patient = %patient, rule = rule.as_str(), "alert resolved");
                        self.metrics.alerts_resolved.inc();
                        self.push(AlertEventKind::Resolved, alert, stamps.received_ns)
                            .await;
                        Applied::Done
                    }
                    Err(e) => {
                        self.metrics.store_errors.inc();
                        tracing::error!(alert = %id, error = %e, "could not resolve alert; will retry");
                        Applied::RetryResolve(rule)
                    }
                }
            }
        }
    }

    async fn push(&self, kind: AlertEventKind, alert: Alert, received_ns: Nanos) {
        let event = AlertEvent {
            kind,
            alert,
            sample_received_ns: Some(received_ns),
        };
        self.live.alert(&event);
        match self.pusher.push(&event).await {
            Ok(()) => {
                let latency_s = (now_ns() - received_ns) as f64 / 1e9;
                self.metrics.alert_latency.observe(latency_s);
            }
            Err(e) => {
                self.metrics.push_failures.inc();
                tracing::warn!(error = %e, "alert event not pushed; the notifier will reconcile it from the store");
            }
        }
    }
}
