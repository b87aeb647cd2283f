//! The coalescing writer: blocks from every connection queue here (bounded), are cut into
//! batches of up to `batch_lines` points across patients, and written with a few batches
//! in flight. Each submitter learns when the batch holding its block is durable, so a
//! frame is acked only then.
//!
//! Backpressure: when the store is slow the queue fills, `submit` waits, the connection
//! task stops reading its socket, and TCP pushes back on the gateway. Memory is bounded
//! by `queue_blocks` plus `writes_in_flight` batches.

use crate::metrics::IngestMetrics;
use cw_core::SampleBlock;
use cw_storage::{SampleStore, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterConfig {
    /// Blocks waiting for a batch, across all connections; when full, connections stop
    /// reading.
    pub queue_blocks: usize,
    /// Points (one per sample instant) in one store write.
    pub batch_lines: usize,
    /// How long a batch waits for more blocks before it is written anyway.
    pub linger_ms: u64,
    /// Store writes running at once.
    pub writes_in_flight: usize,
    /// Frames one connection may have in flight (read, not yet answered).
    pub frames_in_flight_per_connection: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            queue_blocks: 4096,
            batch_lines: 5000,
            linger_ms: 5,
            writes_in_flight: 4,
            frames_in_flight_per_connection: 32,
        }
    }
}

/// The outcome of a batch: the block handed back once durable (so the pipeline can
/// publish it without a copy), or the store error as text, told to every submitter.
type Done = oneshot::Sender<Result<SampleBlock, String>>;

struct Job {
    block: SampleBlock,
    done: Done,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    metrics: Arc<IngestMetrics>,
}

impl Writer {
    /// Starts the writer task; it ends when every `Writer` handle is dropped, after
    /// writing what is queued (graceful drain).
    pub fn start(
        samples: Arc<dyn SampleStore>,
        cfg: &WriterConfig,
        metrics: Arc<IngestMetrics>,
    ) -> Self {
        let (queue, rx) = mpsc::channel(cfg.queue_blocks.max(1));
        tokio::spawn(run(samples, cfg.clone(), rx, metrics.clone()));
        Self { queue, metrics }
    }

    /// Queues a block and waits until the batch holding it is durable (or failed); hands
    /// the block back. Waits for room when the queue is full: that wait is the
    /// backpressure.
    pub async fn write(&self, block: SampleBlock) -> Result<SampleBlock, StoreError> {
        let (done, result) = oneshot::channel();
        // Counted while waiting for room too; the guard uncounts a block that never got
        // in (writer gone, or this future dropped because its connection closed).
        let waiting = Waiting::new(&self.metrics.queue_depth);
        if self.queue.send(Job { block, done }).await.is_err() {
            return Err(StoreError::Unavailable("ingest writer stopped".into()));
        }
        // Queued: the writer uncounts it when it takes it.
        waiting.queued();
        match result.await {
            Ok(Ok(block)) => Ok(block),
            Ok(Err(message)) => Err(StoreError::Unavailable(message)),
            Err(_) => Err(StoreError::Unavailable("ingest writer stopped".into())),
        }
    }
}

/// One block counted in the queue-depth gauge until it is queued or given up.
struct Waiting<'a> {
    depth: &'a AtomicU64,
    queued: bool,
}

impl<'a> Waiting<'a> {
    fn new(depth: &'a AtomicU64) -> Self {
        depth.fetch_add(1, Ordering::Relaxed);
        Self {
            depth,
            queued: false,
        }
    }

    fn queued(mut self) {
        self.queued = true;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.queued {
            self.depth.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

async fn run(
    samples: Arc<dyn SampleStore>,
    cfg: WriterConfig,
    mut rx: mpsc::Receiver<Job>,
    metrics: Arc<IngestMetrics>,
) {
    let slots = Arc::new(Semaphore::new(cfg.writes_in_flight.max(1)));
    let linger = Duration::from_millis(cfg.linger_ms);
    let batch_lines = cfg.batch_lines.max(1);
    while let Some(first) = rx.recv().await {
        // Take a write slot first: while every slot is busy, blocks stay in the bounded
        // queue (and connections stop reading) instead of piling up here.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut lines = first.block.frames();
        let mut jobs = vec![first];
        let deadline = tokio::time::Instant::now() + linger;
        while lines < batch_lines {
            let next = match rx.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Timed out: the batch has lingered long enough.
                    tokio::time::timeout_at(deadline, rx.recv())
                        .await
                        .unwrap_or_default()
                }
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            };
            let Some(job) = next else { break };
            lines += job.block.frames();
            jobs.push(job);
        }
        metrics
            .queue_depth
            .fetch_sub(jobs.len() as u64, Ordering::Relaxed);
        let samples = samples.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let (blocks, dones): (Vec<SampleBlock>, Vec<Done>) =
                jobs.into_iter().map(|j| (j.block, j.done)).unzip();
            let started = Instant::now();
            let result = samples.write(&blocks).await;
            drop(slot);
            match &result {
                Ok(()) => {
                    metrics
                        .write_latency
                        .observe(started.elapsed().as_secs_f64());
                    metrics.batches_written.inc();
                    metrics.samples_stored.add(
                        blocks
                            .iter()
                            .map(|b| b.samples_uv.len() as u64)
                            .sum::<u64>(),
                    );
                }
                Err(e) => {
                    metrics.store_errors.inc();
                    tracing::warn!(blocks = blocks.len(), error = %e, "sample batch write failed");
                }
            }
            let outcome = result.map_err(|e| e.to_string());
            for (block, done) in blocks.into_iter().zip(dones) {
                // The submitter may have gone (connection closed): nothing to tell.
                let _ = done.send(outcome.clone().map(|()| block));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{DeviceId, PatientId};

    fn block(patient: usize, seq: u64) -> SampleBlock {
        SampleBlock {
            patient: PatientId::parse(&format!("p{patient}")).expect("valid"),
            device: DeviceId::parse(&format!("d{patient}")).expect("valid"),
            seq,
            start_ns: 1_700_000_000_000_000_000 + seq as i64 * 1_000_000_000,
            rate_hz: 250,
            leads: 1,
            samples_uv: vec![1; 250],
            lead_off: false,
        }
    }

    #[tokio::test]
    async fn blocks_of_many_patients_share_batches_and_each_submitter_gets_its_block_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stores = cw_storage::open(&cw_storage::StorageConfig {
            path: dir.path().join("s.sqlite"),
            ..Default::default()
        })
        .await
        .expect("store");
        let metrics = Arc::new(IngestMetrics::default());
        let writer = Writer::start(
            stores.samples.clone(),
            &WriterConfig {
                linger_ms: 200,
                batch_lines: 100_000,
                ..Default::default()
            },
            metrics.clone(),
        );
        let submitted: Vec<_> = (0..50)
            .map(|p| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(block(p, 1)).await })
            })
            .collect();
        for (p, task) in submitted.into_iter().enumerate() {
            let back = task.await.expect("task").expect("durable");
            assert_eq!(back.patient.as_str(), format!("p{p}"));
        }
        assert!(
            metrics.batches_written.get() < 50,
            "50 blocks in {} batches",
            metrics.batches_written.get()
        );
        assert_eq!(metrics.queue_depth.load(Ordering::Relaxed), 0);
        let patient = PatientId::parse("p7").expect("valid");
        let stored = stores
            .samples
            .count_frames(&patient, 0, i64::MAX)
            .await
            .expect("count");
        assert_eq!(stored, 250);
    }
}
