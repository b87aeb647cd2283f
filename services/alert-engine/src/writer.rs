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
