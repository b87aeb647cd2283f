//! Rule events made durable and known off the analysis loop.
//!
//! Storing an alert waits on the record store (an fsync on SQLite, a round trip on
//! MongoDB). Done inline, every store write held up the blocks of all other patients
//! behind it — at 1,000 patients with alerts firing, the loop fell hundreds of ms behind
//! the bus. One writer task now takes the events in the order the loop decided them (so
//! a patient's fire is stored before its resolve) and reports back only what must be
//! retried; the loop keeps analysing meanwhile.
//!
//! Group commit: the writer takes everything queued at once and stores consecutive
//! fires in one batch (`AlertStore::open_alert_batch`, one fsync on SQLite) before
//! pushing any of them. At 100 alerts/s one commit per alert queued fires for hundreds
//! of ms behind each other's fsyncs.

use crate::actions::{Actions, Applied};
use crate::fire_trace::BlockStamps;
use cw_analysis::RuleEvent;
use cw_core::{AlertId, PatientId, RuleKind, ThresholdPolicy};
use cw_storage::WatchdogProbe;
use std::collections::HashMap;
use std::mem::take;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events queued beyond this make the loop wait (backpressure rather than memory).
const QUEUE: usize = 4096;

/// At most this many queued events are taken at once; their fires share one commit.
const BATCH: usize = 256;

enum Job {
    /// The open alerts found in the store at start or when a shard was gained (resolved
    /// by this engine).
    Adopt(HashMap<(PatientId, RuleKind), AlertId>),
    /// A shard was lost: its open alerts are the new owner's to resolve.
    Forget(u16),
    Apply(Box<ApplyJob>),
    /// A notifier watchdog round for a shard this engine holds (`Actions::answer_probe`).
    Probe(WatchdogProbe),
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
        let mut drained = Vec::with_capacity(BATCH);
        while queue.recv_many(&mut drained, BATCH).await > 0 {
            let retry = |patient, applied| {
                if !matches!(applied, Applied::Done) {
                    // The loop is gone only at shutdown; the store repairs it at start.
                    let _ = retry_tx.send(Retry { patient, applied });
                }
            };
            // Consecutive fires go to the store together; anything else (a resolve, an
            // adoption) first stores the fires before it, so decision order holds.
            let mut fires = Vec::new();
            for job in drained.drain(..) {
                match job {
                    Job::Apply(job) => {
                        let ApplyJob {
                            patient,
                            policy,
                            event,
                            stamps,
                        } = *job;
                        if let RuleEvent::Fire {
                            rule,
                            started_ns,
                            at,
                            value,
                        } = event
                        {
                            let decided = (rule, started_ns, at, value);
                            fires.push(actions.pending_fire(&patient, &policy, decided, stamps));
                            continue;
                        }
                        for (p, applied) in actions.open_batch(take(&mut fires), &mut open).await {
                            retry(p, applied);
                        }
                        let applied = actions
                            .apply(&patient, &policy, event, &mut open, stamps)
                            .await;
                        retry(patient, applied);
                    }
                    Job::Adopt(found) => {
                        for (p, applied) in actions.open_batch(take(&mut fires), &mut open).await {
                            retry(p, applied);
                        }
                        open.extend(found);
                    }
                    Job::Probe(probe) => {
                        for (p, applied) in actions.open_batch(take(&mut fires), &mut open).await {
                            retry(p, applied);
                        }
                        actions.answer_probe(probe).await;
                    }
                    Job::Forget(shard) => {
                        for (p, applied) in actions.open_batch(take(&mut fires), &mut open).await {
                            retry(p, applied);
                        }
                        open.retain(|(patient, _), _| cw_core::shard_of(patient) != shard);
                    }
                }
            }
            for (p, applied) in actions.open_batch(fires, &mut open).await {
                retry(p, applied);
            }
        }
    });
    (Writer { jobs }, retries, task)
}

impl Writer {
    pub async fn adopt(&self, open: HashMap<(PatientId, RuleKind), AlertId>) {
        self.send(Job::Adopt(open)).await;
    }

    pub async fn probe(&self, probe: WatchdogProbe) {
        self.send(Job::Probe(probe)).await;
    }

    pub async fn forget(&self, shard: u16) {
        self.send(Job::Forget(shard)).await;
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
    use cw_storage::{Backend, StorageConfig, Stores};
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;

    /// A writer on a fresh embedded store with real bus sockets.
    struct Harness {
        _dir: tempfile::TempDir,
        stores: Stores,
        trace: Arc<FireTrace>,
        writer: Writer,
        retries: mpsc::UnboundedReceiver<Retry>,
        task: JoinHandle<()>,
        shutdown: CancellationToken,
    }

    async fn harness() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let stores = cw_storage::open(&StorageConfig {
            backend: Backend::Embedded,
            path: dir.path().join("writer.sqlite"),
            key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
            ..StorageConfig::default()
        })
        .await
        .expect("embedded store");
        let sealer = Sealer::from_config(&BusConfig {
            key_id: 1,
            key_hex: Some(Sealer::generate_key_hex().into()),
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
        let fence = Arc::new(crate::leases::Fence::new("writer-test".into()));
        let mut keeper = crate::leases::LeaseKeeper::new(
            stores.records.clone(),
            crate::config::LeaseConfig::default(),
            &[],
            fence.clone(),
            crate::leases::KeeperOutputs {
                changes: mpsc::unbounded_channel().0,
                probes: mpsc::unbounded_channel().0,
            },
            metrics.clone(),
        );
        keeper.round().await.expect("every shard leased");
        let (writer, retries, task) = spawn(Actions {
            records: stores.records.clone(),
            pusher,
            metrics,
            trace: trace.clone(),
            strip_padding_s: 10,
            live,
            fence,
        });
        writer.adopt(HashMap::new()).await;
        Harness {
            _dir: dir,
            stores,
            trace,
            writer,
            retries,
            task,
            shutdown,
        }
    }

    fn hr_high_policy(patient: &PatientId) -> ThresholdPolicy {
        ThresholdPolicy {
            hr_high: Some(HrLimit {
                bpm: 100.0,
                priority: Priority::High,
                for_s: 0.0,
                hysteresis_bpm: 5.0,
                clear_s: 5.0,
            }),
            ..ThresholdPolicy::empty(patient.clone())
        }
    }

    fn fire_at(at: i64) -> RuleEvent {
        RuleEvent::Fire {
            rule: RuleKind::HrHigh,
            started_ns: at - 1_000,
            at,
            value: 120.0,
        }
    }

    #[tokio::test]
    async fn a_fire_and_its_resolve_are_stored_in_the_order_the_loop_decided_them() {
        let Harness {
            _dir,
            stores,
            trace,
            writer,
            mut retries,
            task,
            shutdown,
        } = harness().await;
        let patient = PatientId::parse("writer-p").expect("id");
        let policy = hr_high_policy(&patient);
        let rule = RuleKind::HrHigh;
        // Both are queued before the first is stored: the resolve must find the alert.
        let stamps = BlockStamps::clock(0);
        writer
            .apply(&patient, &policy, fire_at(2_000), stamps)
            .await;
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

    #[tokio::test]
    async fn fires_queued_together_are_stored_in_one_batch_before_any_is_pushed() {
        let Harness {
            _dir,
            stores,
            trace,
            writer,
            mut retries,
            task,
            shutdown,
        } = harness().await;
        let patients: Vec<PatientId> = (0..20)
            .map(|i| PatientId::parse(&format!("batch-p{i}")).expect("id"))
            .collect();
        let stamps = BlockStamps::clock(0);
        // All queued before the writer runs (the test runtime has one thread and the
        // sends do not wait): one drain takes them all.
        for p in &patients {
            writer
                .apply(p, &hr_high_policy(p), fire_at(2_000), stamps)
                .await;
        }
        // A second fire for a key the batch already opens: stored once, pushed once.
        let first = &patients[0];
        writer
            .apply(first, &hr_high_policy(first), fire_at(4_000), stamps)
            .await;
        drop(writer);
        task.await.expect("the writer ends once its queue is done");

        let fires = trace.snapshot();
        assert_eq!(fires.len(), patients.len(), "one traced fire per patient");
        let stored_ns = fires[0].stored_ns;
        assert!(
            fires.iter().all(|f| f.stored_ns == stored_ns),
            "one commit for the batch"
        );
        assert!(
            fires.iter().all(|f| f.pushed_ns >= stored_ns),
            "pushed only after the batch is stored"
        );
        let traced: Vec<&PatientId> = fires.iter().map(|f| &f.patient).collect();
        assert_eq!(
            traced,
            patients.iter().collect::<Vec<_>>(),
            "decision order"
        );
        let open = stores.records.open_alerts().await.expect("open");
        assert_eq!(open.len(), patients.len(), "one open alert per patient");
        let of_first = stores
            .records
            .alerts_for_patients(std::slice::from_ref(first), None, 10)
            .await
            .expect("alerts readable");
        assert_eq!(of_first.len(), 1, "{of_first:?}");
        assert_eq!(of_first[0].fired_ns, 2_000, "the first fire holds the key");
        assert!(retries.try_recv().is_err(), "nothing to retry");
        shutdown.cancel();
    }
}
