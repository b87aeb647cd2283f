//! Rule events made durable and known off the analysis loop.
//!
//! Storing an alert waits on the record store (an fsync on SQLite, a round trip on
//! MongoDB). Done inline, every store write held up the blocks of all other patients
//! behind it — at 1,000 patients with alerts firing, the loop fell hundreds of ms behind
//! the bus. One writer task now takes the events in the order the loop decided them (so
//! a patient's fire is stored before its resolve) and reports back only what must be
//! retried; the loop keeps analysing meanwhile.

use crate::actions::{Actions, Applied};
use crate::fire_trace::BlockStamps;
use crate::monitor::RuleEvent;
use cw_core::{AlertId, PatientId, RuleKind, ThresholdPolicy};
use std::collections::HashMap;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events queued beyond this make the loop wait (backpressure rather than memory).
const QUEUE: usize = 4096;

enum Job {
    /// The open alerts found in the store at start (resolved by this engine).
    Adopt(HashMap<(PatientId, RuleKind), AlertId>),
    Apply(Box<ApplyJob>),
}

struct ApplyJob {
    patient: PatientId,
    policy: ThresholdPolicy,
    event: RuleEvent,
    stamps: BlockStamps,
}

/// A rule whose transition could not be made durable: the loop puts its state back.
pub struct Retry {
    pub patient: PatientId,
    pub applied: Applied,
}

pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// Starts the writer task; it ends once every `Writer` is dropped and its queue is done.
pub fn spawn(actions: Actions) -> (Writer, mpsc::UnboundedReceiver<Retry>, JoinHandle<()>) {
    let (jobs, mut queue) = mpsc::channel(QUEUE);
    // Unbounded so the writer never waits on the loop while the loop waits on the job
    // queue (that would deadlock in a store outage); at most one retry per job, and the
    // loop drains them between blocks.
    let (retry_tx, retries) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut open = HashMap::new();
        while let Some(job) = queue.recv().await {
            match job {
                Job::Adopt(found) => open.extend(found),
                Job::Apply(job) => {
                    let ApplyJob {
                        patient,
                        policy,
                        event,
                        stamps,
                    } = *job;
                    let applied = actions
                        .apply(&patient, &policy, event, &mut open, stamps)
                        .await;
                    if !matches!(applied, Applied::Done) {
                        // The loop is gone only at shutdown; the store repairs it at start.
                        let _ = retry_tx.send(Retry { patient, applied });
                    }
                }
            }
        }
    });
    (Writer { jobs }, retries, task)
}

impl Writer {
    pub async fn adopt(&self, open: HashMap<(PatientId, RuleKind), AlertId>) {
        self.send(Job::Adopt(open)).await;
    }

    pub async fn apply(
        &self,
        patient: &PatientId,
        policy: &ThresholdPolicy,
        event: RuleEvent,
        stamps: BlockStamps,
    ) {
        self.send(Job::Apply(Box::new(ApplyJob {
            patient: patient.clone(),
            policy: policy.clone(),
            event,
            stamps,
        })))
        .await;
    }

    async fn send(&self, job: Job) {
        if self.jobs.send(job).await.is_err() {
            tracing::error!("alert writer stopped; the event is lost until the next start");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fire_trace::FireTrace;
    use crate::live_events::LiveEvents;
    use crate::metrics::EngineMetrics;
    use cw_bus::{BusConfig, Kind, Pusher, Sealer};
    use cw_core::{AlertState, HrLimit, Priority};
    use cw_storage::{Backend, StorageConfig};
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;

    #[tokio::test]
    async fn a_fire_and_its_resolve_are_stored_in_the_order_the_loop_decided_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stores = cw_storage::open(&StorageConfig {
            backend: Backend::Embedded,
            path: dir.path().join("writer.sqlite"),
            ..StorageConfig::default()
        })
        .await
        .expect("embedded store");
        let sealer = Sealer::from_config(&BusConfig {
            key_id: 1,
            key_hex: Some(Sealer::generate_key_hex()),
            ..BusConfig::default()
        })
        .expect("bus key");
        let metrics = Arc::new(EngineMetrics::default());
        let (pusher, _) = Pusher::bind(
            "tcp://127.0.0.1:0",
            Kind::AlertEvent,
            sealer.clone(),
            metrics.alerts_bus.clone(),
        )
        .await
        .expect("push socket");
        let shutdown = CancellationToken::new();
        let (live, _) = LiveEvents::bind(
            "tcp://127.0.0.1:0",
            sealer,
            metrics.live_bus.clone(),
            shutdown.clone(),
        )
        .await
        .expect("live socket");
        let trace = Arc::new(FireTrace::default());
        let (writer, mut retries, task) = spawn(Actions {
            records: stores.records.clone(),
            pusher,
            metrics,
            trace: trace.clone(),
            strip_padding_s: 10,
            live,
        });
        writer.adopt(HashMap::new()).await;
        let patient = PatientId::parse("writer-p").expect("id");
        let policy = ThresholdPolicy {
            hr_high: Some(HrLimit {
                bpm: 100.0,
                priority: Priority::High,
                for_s: 0.0,
                hysteresis_bpm: 5.0,
                clear_s: 5.0,
            }),
            ..ThresholdPolicy::empty(patient.clone())
        };
        let rule = RuleKind::HrHigh;
        let fire = RuleEvent::Fire {
            rule,
            started_ns: 1_000,
            at: 2_000,
            value: 120.0,
        };
        // Both are queued before the first is stored: the resolve must find the alert.
        let stamps = BlockStamps::clock(0);
        writer.apply(&patient, &policy, fire, stamps).await;
        let resolve = RuleEvent::Resolve { rule, at: 3_000 };
        writer.apply(&patient, &policy, resolve, stamps).await;
        drop(writer);
        task.await.expect("the writer ends once its queue is done");
        let alerts = stores
            .records
            .alerts_for_patients(std::slice::from_ref(&patient), None, 10)
            .await
            .expect("alerts readable");
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].state, AlertState::Resolved, "{alerts:?}");
        assert!(stores.records.open_alerts().await.expect("open").is_empty());
        assert_eq!(trace.snapshot().len(), 1, "the fire is traced");
        assert!(retries.try_recv().is_err(), "nothing to retry");
        shutdown.cancel();
    }
}
