//! The coalescing writer: items from every connection queue here (bounded), are cut into
//! batches of up to `batch_lines` points across patients, and written with a few batches
//! in flight. Each submitter learns when the batch holding its item is durable, so a
//! frame is acked only then. Generic over what it writes ([`Batched`]): ingest runs one
//! instance for sample blocks and one for numerics, so a numerics frame neither costs a
//! store write (on the embedded store a transaction and fsync) of its own nor waits
//! behind an ECG batch (docs/benchmarks.md, "Numerics beside the ECG").
//!
//! One lane per node of the store (`SampleNodes`: the InfluxDB nodes the patients are
//! spread over by shard, docs/operations.md "Several InfluxDB nodes"): each node has its
//! own queue, batches and write slots, so a batch holds one node's patients and a frame
//! is acked when its own node stored it. A node that is down or frozen fails or holds
//! up only its own patients' frames; the other nodes' patients are acked on.
//!
//! Backpressure: when a node is slow its queue fills, `write` waits, the connections of
//! its patients stop reading their sockets, and TCP pushes back on those gateways.
//! Memory is bounded per node by `queue_blocks` plus `writes_in_flight` batches.

use crate::events::{BatchWriteFailed, SamplesWritten, VitalsWritten};
use crate::metrics::IngestMetrics;
use cw_core::{PatientId, SampleBlock, VitalBatch};
use cw_runtime::InternalEvent;
use cw_storage::{SampleNodes, SampleStore, StoreError, VitalStore};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// What a writer batches: its weight against `batch_lines`, the store write of a batch,
/// and what is counted.
pub trait Batched: Send + Sync + Sized + 'static {
    type Store: ?Sized + SampleNodes + Send + Sync + 'static;
    /// Points this item adds to a batch.
    fn weight(&self) -> usize;
    /// Whose item this is: it decides the node (lane) it is written to.
    fn patient(&self) -> &PatientId;
    /// Writes a batch durably.
    fn write<'a>(
        store: &'a Self::Store,
        items: &'a [Self],
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;
    /// The gauge of items waiting for this writer.
    fn queue_depth(metrics: &IngestMetrics) -> &AtomicU64;
    /// Counts a batch written to `node` in `elapsed`.
    fn written(metrics: &IngestMetrics, node: usize, items: &[Self], elapsed: Duration);
}

impl Batched for SampleBlock {
    type Store = dyn SampleStore;
    fn weight(&self) -> usize {
        self.frames()
    }
    fn patient(&self) -> &PatientId {
        &self.patient
    }
    fn write<'a>(
        store: &'a Self::Store,
        items: &'a [Self],
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        store.write(items)
    }
    fn queue_depth(metrics: &IngestMetrics) -> &AtomicU64 {
        &metrics.queue_depth
    }
    fn written(metrics: &IngestMetrics, node: usize, items: &[Self], elapsed: Duration) {
        SamplesWritten {
            node,
            samples: items.iter().map(|b| b.samples_uv.len() as u64).sum(),
            elapsed,
        }
        .emit(metrics);
    }
}

impl Batched for VitalBatch {
    type Store = dyn VitalStore;
    fn weight(&self) -> usize {
        self.readings.len().max(1)
    }
    fn patient(&self) -> &PatientId {
        &self.patient
    }
    fn write<'a>(
        store: &'a Self::Store,
        items: &'a [Self],
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        store.write_vitals(items)
    }
    fn queue_depth(metrics: &IngestMetrics) -> &AtomicU64 {
        &metrics.vitals_queue_depth
    }
    fn written(metrics: &IngestMetrics, node: usize, items: &[Self], _elapsed: Duration) {
        VitalsWritten {
            node,
            numerics: items.iter().map(|b| b.readings.len() as u64).sum(),
        }
        .emit(metrics);
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterConfig {
    /// Blocks waiting for a batch, across all connections, per sample-store node; when
    /// full, the connections of that node's patients stop reading.
    pub queue_blocks: usize,
    /// Points (one per sample instant) in one store write.
    pub batch_lines: usize,
    /// How long a batch waits for more blocks before it is written anyway.
    pub linger_ms: u64,
    /// Store writes running at once, per sample-store node.
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

/// The outcome of a batch: the item handed back once durable (so the pipeline can
/// publish it without a copy), or the store error as text, told to every submitter.
type Done<T> = oneshot::Sender<Result<T, String>>;

struct Job<T> {
    item: T,
    done: Done<T>,
}

/// Handle to the writer tasks, one per node of the store; cheap to clone.
pub struct Writer<T: Batched> {
    /// The queue of each node's writer task, by node.
    lanes: Arc<[mpsc::Sender<Job<T>>]>,
    store: Arc<T::Store>,
    metrics: Arc<IngestMetrics>,
}

impl<T: Batched> Clone for Writer<T> {
    fn clone(&self) -> Self {
        Self {
            lanes: self.lanes.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<T: Batched> Writer<T> {
    /// Starts one writer task per node of `store`; each ends when every `Writer` handle
    /// is dropped, after writing what is queued (graceful drain).
    pub fn start(store: Arc<T::Store>, cfg: &WriterConfig, metrics: Arc<IngestMetrics>) -> Self {
        let nodes = store.node_count().max(1);
        metrics.count_nodes(nodes);
        let lanes: Arc<[mpsc::Sender<Job<T>>]> = (0..nodes)
            .map(|node| {
                let (queue, rx) = mpsc::channel(cfg.queue_blocks.max(1));
                tokio::spawn(run(store.clone(), node, cfg.clone(), rx, metrics.clone()));
                queue
            })
            .collect();
        Self {
            lanes,
            store,
            metrics,
        }
    }

    /// Queues an item and waits until the batch holding it is durable (or failed); hands
    /// the item back. Waits for room when the queue is full: that wait is the
    /// backpressure.
    pub async fn write(&self, item: T) -> Result<T, StoreError> {
        let (done, result) = oneshot::channel();
        // Counted while waiting for room too; the guard uncounts an item that never got
        // in (writer gone, or this future dropped because its connection closed).
        let waiting = Waiting::new(T::queue_depth(&self.metrics));
        let node = self.store.node_of(item.patient());
        let Some(lane) = self.lanes.get(node) else {
            return Err(StoreError::Unavailable(format!(
                "the sample store named node {} of {}",
                node + 1,
                self.lanes.len()
            )));
        };
        if lane.send(Job { item, done }).await.is_err() {
            return Err(StoreError::Unavailable("ingest writer stopped".into()));
        }
        // Queued: the writer uncounts it when it takes it.
        waiting.queued();
        match result.await {
            Ok(Ok(item)) => Ok(item),
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

/// The writer of node `node`: batches what its queue holds (only that node's patients)
/// and writes it.
async fn run<T: Batched>(
    store: Arc<T::Store>,
    node: usize,
    cfg: WriterConfig,
    mut rx: mpsc::Receiver<Job<T>>,
    metrics: Arc<IngestMetrics>,
) {
    let slots = Arc::new(Semaphore::new(cfg.writes_in_flight.max(1)));
    let linger = Duration::from_millis(cfg.linger_ms);
    let batch_lines = cfg.batch_lines.max(1);
    while let Some(first) = rx.recv().await {
        // Take a write slot first: while every slot is busy, items stay in the bounded
        // queue (and connections stop reading) instead of piling up here.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut lines = first.item.weight();
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
            lines += job.item.weight();
            jobs.push(job);
        }
        T::queue_depth(&metrics).fetch_sub(jobs.len() as u64, Ordering::Relaxed);
        let store = store.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let (items, dones): (Vec<T>, Vec<Done<T>>) =
                jobs.into_iter().map(|j| (j.item, j.done)).unzip();
            let started = Instant::now();
            let result = T::write(&store, &items).await;
            drop(slot);
            match &result {
                Ok(()) => T::written(&metrics, node, &items, started.elapsed()),
                Err(e) => BatchWriteFailed {
                    node,
                    items: items.len(),
                    error: e,
                }
                .emit(&metrics),
            }
            let outcome = result.map_err(|e| e.to_string());
            for (item, done) in items.into_iter().zip(dones) {
                // The submitter may have gone (connection closed): nothing to tell.
                let _ = done.send(outcome.clone().map(|()| item));
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
            key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
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

    fn numerics(patient: usize, time_ns: i64) -> VitalBatch {
        let reading = |kind, value| cw_core::VitalReading {
            time_ns,
            kind,
            site: Default::default(),
            status: Default::default(),
            value: Some(value),
        };
        VitalBatch {
            patient: PatientId::parse(&format!("p{patient}")).expect("valid"),
            device: DeviceId::parse(&format!("d{patient}")).expect("valid"),
            seq: 1,
            readings: vec![
                reading(cw_core::VitalKind::Spo2, 97.0),
                reading(cw_core::VitalKind::PulseRate, 72.0),
            ],
        }
    }

    #[tokio::test]
    async fn numerics_of_many_patients_share_batches_and_are_durable_when_acked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stores = cw_storage::open(&cw_storage::StorageConfig {
            path: dir.path().join("s.sqlite"),
            key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
            ..Default::default()
        })
        .await
        .expect("store");
        let metrics = Arc::new(IngestMetrics::default());
        let vitals: Arc<dyn VitalStore> = stores.samples.clone();
        let writer = Writer::start(
            vitals.clone(),
            &WriterConfig {
                linger_ms: 200,
                ..Default::default()
            },
            metrics.clone(),
        );
        // Within the store's retention: a whole second shortly before now.
        let time_ns = (cw_core::time::now_ns() / 1_000_000_000 - 5) * 1_000_000_000;
        let submitted: Vec<_> = (0..50)
            .map(|p| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(numerics(p, time_ns)).await })
            })
            .collect();
        for (p, task) in submitted.into_iter().enumerate() {
            let back = task.await.expect("task").expect("durable");
            assert_eq!(back.patient.as_str(), format!("p{p}"));
            // Acked means stored: the readings are there the moment the submitter hears.
            let stored = vitals
                .vitals(&back.patient, time_ns, time_ns + 1)
                .await
                .expect("read");
            assert_eq!(stored.len(), 2, "p{p}");
        }
        let batches = metrics.vitals_batches_written.get();
        assert!(batches < 50, "50 numerics frames in {batches} batches");
        assert_eq!(metrics.vitals_stored.get(), 100);
        assert_eq!(metrics.vitals_queue_depth.load(Ordering::Relaxed), 0);
        // The sample writer's figures are its own.
        assert_eq!(metrics.batches_written.get(), 0);
    }
}
