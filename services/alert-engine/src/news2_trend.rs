//! The NEWS2 trend (docs/vitals.md, "NEWS2 trend"): after each batch of numerics the
//! engine offers the patient's score here, and it is stored (`News2Store`, beside the
//! numerics) when it changed — total, a component, the missing or assumed parameters, or
//! the response — or when the last one stored is `HEARTBEAT` old, so a steady score
//! still draws its line and a reader can tell "steady" from "not scored". Writes go off
//! the analysis loop through a bounded queue: a full queue or a failed write drops the
//! point and counts it (`cw_engine_news2_dropped_total`): the trend is a record for
//! people to read, never what pages (the escalation rules are judged in the monitor).

use crate::events::{News2Dropped, News2Stored};
use crate::metrics::EngineMetrics;
use cw_core::news2::News2Assessment;
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{PatientId, shard_of};
use cw_runtime::InternalEvent;
use cw_storage::SampleStore;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A steady score is stored again this often.
const HEARTBEAT: Nanos = 300 * NANOS_PER_SEC;
/// Scores waiting to be stored; one batch of numerics per patient a second for 1,000
/// patients fills it in about 4 s of a stalled store.
const QUEUE: usize = 4096;
/// Scores stored in one write at most.
const BATCH: usize = 256;

pub struct News2Trend {
    last: HashMap<PatientId, News2Assessment>,
    tx: mpsc::Sender<(PatientId, News2Assessment)>,
    metrics: Arc<EngineMetrics>,
}

impl News2Trend {
    pub fn spawn(
        store: Arc<dyn SampleStore>,
        metrics: Arc<EngineMetrics>,
    ) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(store_all(store, rx, metrics.clone()));
        let trend = Self {
            last: HashMap::new(),
            tx,
            metrics,
        };
        (trend, task)
    }

    /// The patient's score after a batch: queued when it is worth storing.
    pub fn offer(&mut self, patient: &PatientId, score: &News2Assessment) {
        if !worth_storing(self.last.get(patient), score) {
            return;
        }
        self.last.insert(patient.clone(), score.clone());
        if self.tx.try_send((patient.clone(), score.clone())).is_err() {
            News2Dropped {
                scores: 1,
                failed_write: None,
            }
            .emit(&self.metrics);
        }
    }

    /// Forgets the patients of a shard this engine no longer holds.
    pub fn forget(&mut self, shard: u16) {
        self.last.retain(|p, _| shard_of(p) != shard);
    }
}

/// Changed since the last stored score (anything but its time), or that one is a
/// heartbeat old.
fn worth_storing(last: Option<&News2Assessment>, score: &News2Assessment) -> bool {
    match last {
        None => true,
        Some(last) => {
            last.score != score.score
                || last.assumed != score.assumed
                || score.at_ns.saturating_sub(last.at_ns) >= HEARTBEAT
        }
    }
}

async fn store_all(
    store: Arc<dyn SampleStore>,
    mut rx: mpsc::Receiver<(PatientId, News2Assessment)>,
    metrics: Arc<EngineMetrics>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut by_patient: HashMap<PatientId, Vec<News2Assessment>> = HashMap::new();
        for (patient, score) in batch.drain(..) {
            by_patient.entry(patient).or_default().push(score);
        }
        for (patient, scores) in by_patient {
            if let Err(e) = store.write_news2(&patient, &scores).await {
                News2Dropped {
                    scores: scores.len() as u64,
                    failed_write: Some((&patient, &e)),
                }
                .emit(&metrics);
            } else {
                News2Stored {
                    scores: scores.len() as u64,
                }
                .emit(&metrics);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::news2::{News2, Response};

    fn at(at_ns: Nanos, total: u8) -> News2Assessment {
        News2Assessment {
            at_ns,
            score: News2 {
                total,
                components: Vec::new(),
                missing: Vec::new(),
                response: Response::Routine,
            },
            assumed: Vec::new(),
        }
    }

    #[test]
    fn a_change_or_a_heartbeat_is_stored_a_repeat_is_not() {
        assert!(worth_storing(None, &at(0, 0)));
        assert!(!worth_storing(Some(&at(0, 0)), &at(NANOS_PER_SEC, 0)));
        assert!(worth_storing(Some(&at(0, 0)), &at(NANOS_PER_SEC, 1)));
        assert!(worth_storing(Some(&at(0, 0)), &at(HEARTBEAT, 0)));
    }
}
