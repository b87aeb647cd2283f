//! The embedded store's sample write path (docs/benchmarks.md, "Embedded store at 3,000
//! patients"): rows are encoded on the caller's task (one copy of the samples, not a
//! clone of each block and then a blob), concurrent `write` calls share one transaction
//! (group commit: one fsync for all of them), and a patient's `sample_spans` row is
//! written only when its longest block grows, not once per block.
//!
//! Every caller still returns only once a commit holding its rows is durable, so a frame
//! is acked only when stored (docs/ingest-protocol.md).

use super::conn::Db;
use super::map_err;
use crate::ports::{Result, StoreError};
use cw_core::SampleBlock;
use cw_core::time::Nanos;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

/// One `sample_blocks` row, encoded.
struct Row {
    patient: String,
    start_ns: Nanos,
    end_ns: Nanos,
    device: String,
    seq: i64,
    rate_hz: u32,
    leads: u8,
    frames: i64,
    samples: Vec<u8>,
}

impl Row {
    fn encode(block: &SampleBlock) -> Result<Self> {
        let frames = block.frames();
        // Only whole frames are stored: a trailing partial frame has no timestamp.
        let samples = &block.samples_uv[..frames * usize::from(block.leads)];
        let mut blob = Vec::with_capacity(samples.len() * 2);
        for s in samples {
            blob.extend_from_slice(&s.to_le_bytes());
        }
        Ok(Self {
            patient: block.patient.as_str().to_owned(),
            start_ns: block.start_ns,
            end_ns: block.end_ns(),
            device: block.device.as_str().to_owned(),
            seq: i64::try_from(block.seq)
                .map_err(|_| StoreError::Corrupt(format!("seq {} out of range", block.seq)))?,
            rate_hz: block.rate_hz,
            leads: block.leads,
            frames: frames as i64,
            samples: blob,
        })
    }

    fn span(&self) -> Nanos {
        self.end_ns - self.start_ns
    }
}

type Waiter = oneshot::Sender<std::result::Result<(), String>>;

#[derive(Default)]
struct Pending {
    rows: Vec<Row>,
    waiters: Vec<Waiter>,
}

/// The shared state of one connection's sample writes.
#[derive(Clone, Default)]
pub(super) struct SampleWrites {
    /// Rows waiting for the next commit, and whom to tell its outcome.
    pending: Arc<Mutex<Pending>>,
    /// Each patient's longest block span known to be in `sample_spans` (durably: only
    /// committed values get here). Spans only grow and the row is never deleted, so a
    /// value here stays true whatever other processes write.
    spans: Arc<Mutex<HashMap<String, Nanos>>>,
}

impl SampleWrites {
    /// Stores `blocks` (those with at least one frame) durably, in a transaction shared
    /// with the writes that queued meanwhile.
    pub(super) async fn write(&self, db: &Db, blocks: &[SampleBlock]) -> Result<()> {
        let rows = blocks
            .iter()
            .filter(|b| b.frames() > 0)
            .map(Row::encode)
            .collect::<Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Ok(());
        }
        let (done, outcome) = oneshot::channel();
        {
            let mut pending = lock(&self.pending);
            pending.rows.extend(rows);
            pending.waiters.push(done);
        }
        let this = self.clone();
        // Whoever holds the connection first takes everything queued; a call whose rows
        // were taken by an earlier commit finds the queue empty and returns at once.
        db.call(move |conn| {
            let batch = std::mem::take(&mut *lock(&this.pending));
            if batch.waiters.is_empty() {
                return Ok(());
            }
            let result = this.commit(conn, &batch.rows).map_err(|e| e.to_string());
            for waiter in batch.waiters {
                // A caller that is gone (its connection closed) needs no answer.
                let _ = waiter.send(result.clone());
            }
            Ok(())
        })
        .await?;
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::Unavailable(message)),
            Err(_) => Err(StoreError::Unavailable(
                "sample commit abandoned (its task failed)".into(),
            )),
        }
    }

    fn commit(&self, conn: &mut Connection, rows: &[Row]) -> Result<()> {
        // Spans that grow: each patient's longest new block over what is known stored.
        let mut grown: HashMap<&str, Nanos> = HashMap::new();
        {
            let known = lock(&self.spans);
            for row in rows {
                let span = row.span();
                if known.get(&row.patient).is_none_or(|k| span > *k) {
                    let e = grown.entry(row.patient.as_str()).or_insert(span);
                    *e = (*e).max(span);
                }
            }
        }
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(map_err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO sample_blocks
                     (patient, start_ns, end_ns, device, seq, rate_hz, leads, frames, samples)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(map_err)?;
            for row in rows {
                insert
                    .execute(params![
                        row.patient,
                        row.start_ns,
                        row.end_ns,
                        row.device,
                        row.seq,
                        row.rate_hz,
                        row.leads,
                        row.frames,
                        row.samples,
                    ])
                    .map_err(map_err)?;
            }
            // Remembers each patient's longest block so range queries can bound their
            // scan of the (patient, start_ns) key instead of reading the whole history.
            let mut span = tx
                .prepare_cached(
                    "INSERT INTO sample_spans (patient, max_span_ns) VALUES (?1, ?2)
                     ON CONFLICT (patient) DO UPDATE
                     SET max_span_ns = max(max_span_ns, excluded.max_span_ns)",
                )
                .map_err(map_err)?;
            for (patient, max_span) in &grown {
                span.execute(params![patient, max_span]).map_err(map_err)?;
            }
        }
        tx.commit().map_err(map_err)?;
        let mut known = lock(&self.spans);
        for (patient, max_span) in grown {
            let e = known.entry(patient.to_owned()).or_insert(max_span);
            *e = (*e).max(max_span);
        }
        Ok(())
    }
}

/// A panic while holding these leaves them consistent (plain pushes and inserts).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
