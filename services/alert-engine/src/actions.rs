//! Making rule decisions durable and known: store first, then push (docs/architecture.md, "Processes and the bus").

use crate::events::{
    AlertFired, AlertPushFailed, AlertPushed, AlertResolved, ProbeAnswered, StoreFailed,
    StoreFailure, WriteFenced,
};
use crate::fire_trace::{BlockStamps, FireTiming, FireTrace};
use crate::leases::Fence;
use crate::metrics::EngineMetrics;
use cw_analysis::RuleEvent;
use cw_bus::Pusher;
use cw_core::shard_of;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{
    Alert, AlertEvent, AlertEventKind, AlertId, Episode, PatientId, Priority, RuleKind,
    ThresholdPolicy,
};
use cw_runtime::InternalEvent;
use cw_storage::{EngineRecords, OpenAlertOutcome, WatchdogProbe};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
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
    /// Which shards this engine may page for (`leases.rs`).
    pub fence: Arc<Fence>,
}

/// Whether a write that pages may go ahead for a shard.
enum Lease {
    Held,
    /// Another engine owns it (or nobody, and the next owner will decide): drop it.
    Lost,
    /// The store could not tell: try again, as for a failed write.
    Unknown,
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
        let mut applied = Vec::with_capacity(fires.len());
        let mut leases = HashMap::new();
        let mut held = Vec::with_capacity(fires.len());
        for fire in fires {
            let shard = shard_of(&fire.patient);
            let lease = match leases.entry(shard) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => slot.insert(self.lease(shard).await),
            };
            match lease {
                Lease::Held => held.push(fire),
                Lease::Unknown => applied.push((fire.patient, Applied::RetryFire(fire.alert.rule))),
                Lease::Lost => applied.push((fire.patient, Applied::Done)),
            }
        }
        let fires = held;
        let alerts: Vec<Alert> = fires.iter().map(|f| f.alert.clone()).collect();
        let outcomes = self.records.open_alert_batch(&alerts).await;
        let stored_ns = now_ns();
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
                    AlertFired {
                        alert: &alert.id,
                        patient: &patient,
                        rule,
                        value: alert.value,
                    }
                    .emit(&self.metrics);
                    open.insert((patient.clone(), rule), alert.id.clone());
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
                    StoreFailed {
                        failure: StoreFailure::OpenAlert {
                            patient: &patient,
                            rule,
                        },
                        error: &e,
                    }
                    .emit(&self.metrics);
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
                        StoreFailed {
                            failure: StoreFailure::Episode { alert: &id },
                            error: &e,
                        }
                        .emit(&self.metrics);
                    }
                }
                Applied::Done
            }
            RuleEvent::Resolve { rule, at } => {
                let Some(id) = open.get(&(patient.clone(), rule)).cloned() else {
                    return Applied::Done;
                };
                // A resolve ends the paging: only the shard's owner may decide it.
                match self.lease(shard_of(patient)).await {
                    Lease::Held => {}
                    Lease::Lost => return Applied::Done,
                    Lease::Unknown => return Applied::RetryResolve(rule),
                }
                match self.records.resolve_alert(&id, at).await {
                    Ok(alert) => {
                        open.remove(&(patient.clone(), rule));
                        AlertResolved {
                            alert: &id,
                            patient,
                            rule,
                        }
                        .emit(&self.metrics);
                        self.push(AlertEventKind::Resolved, alert, stamps.received_ns)
                            .await;
                        Applied::Done
                    }
                    Err(e) => {
                        StoreFailed {
                            failure: StoreFailure::Resolve { alert: &id },
                            error: &e,
                        }
                        .emit(&self.metrics);
                        Applied::RetryResolve(rule)
                    }
                }
            }
        }
    }

    /// A notifier watchdog round for a shard this engine holds: its synthetic alert goes
    /// through the same fence, store and push as a clinical one, so a round proves the
    /// lease, this engine's loop and writer, its store writes and the bus to the
    /// notifier (docs/architecture.md, "The watchdog's probe"). It is no clinical alarm:
    /// no rule state, no fire metric or trace, no live view. A failure is left for the
    /// next lease round, which offers the still-pending probe again.
    pub async fn answer_probe(&self, probe: WatchdogProbe) {
        let WatchdogProbe {
            patient,
            requested_ns,
            ..
        } = probe;
        match self.lease(shard_of(&patient)).await {
            Lease::Held => {}
            Lease::Lost | Lease::Unknown => return,
        }
        // Low priority: the routing sends it in-app, and its only recipient is the
        // notifier's synthetic sink, which has no phone or email.
        let alert = Alert::firing(patient.clone(), RuleKind::HrHigh, Priority::Low, now_ns());
        let failed = |e: &dyn std::fmt::Display| {
            StoreFailed {
                failure: StoreFailure::Probe { patient: &patient },
                error: e,
            }
            .emit(&self.metrics)
        };
        let id = match self.records.open_alert(&alert).await {
            Ok(OpenAlertOutcome::Created) => {
                let id = alert.id.clone();
                let event = AlertEvent {
                    kind: AlertEventKind::Fired,
                    alert,
                    sample_received_ns: None,
                };
                if let Err(e) = self.pusher.push(&event).await {
                    AlertPushFailed { error: &e }.emit(&self.metrics);
                }
                id
            }
            // An earlier offer of this round opened it: the notifier has it already.
            Ok(OpenAlertOutcome::AlreadyOpen(open)) => open.id,
            Err(e) => return failed(&e),
        };
        match self.records.answer_probe(&patient, requested_ns, &id).await {
            Ok(true) => ProbeAnswered {
                patient: &patient,
                alert: &id,
            }
            .emit(&self.metrics),
            // Answered by an earlier offer, or the notifier moved on to a new round.
            Ok(false) => {}
            Err(e) => failed(&e),
        }
    }

    /// The fence: this engine's lease on `shard` is locally valid *and* still the stored
    /// one (owner and epoch), checked before each write that pages. The local validity
    /// ends before the store's expiry (`leases.rs`), so a takeover cannot start while
    /// the old owner still passes this check, up to the round trip of the write itself.
    async fn lease(&self, shard: u16) -> Lease {
        let Some(epoch) = self.fence.epoch(shard) else {
            WriteFenced { shard: None }.emit(&self.metrics);
            return Lease::Lost;
        };
        match self.records.shard_lease(shard).await {
            Ok(Some(l)) if l.owner == self.fence.identity() && l.epoch == epoch => Lease::Held,
            Ok(_) => {
                WriteFenced { shard: Some(shard) }.emit(&self.metrics);
                Lease::Lost
            }
            Err(e) => {
                StoreFailed {
                    failure: StoreFailure::LeaseRead { shard },
                    error: &e,
                }
                .emit(&self.metrics);
                Lease::Unknown
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
                AlertPushed {
                    latency_s: (now_ns() - received_ns) as f64 / 1e9,
                }
                .emit(&self.metrics);
            }
            Err(e) => {
                AlertPushFailed { error: &e }.emit(&self.metrics);
            }
        }
    }
}
