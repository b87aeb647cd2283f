//! ECG samples in the embedded file: one row per block (the samples as i16 LE), keyed by
//! (patient, start time) so a resent block replaces itself, as a point does in InfluxDB.

use super::conn::Db;
use super::map_err;
use super::sample_writes::SampleWrites;
use crate::ports::{EcgEnvelope, Reachable, Result, SampleNodes, SampleStore, StoreError};
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{DeviceId, PatientId, SampleBlock};
use rusqlite::{Connection, OptionalExtension, params};
use std::ops::Range;

#[derive(Clone)]
pub struct SqliteSamples {
    db: Db,
    writes: SampleWrites,
}

impl SqliteSamples {
    pub(super) fn new(db: Db) -> Self {
        Self {
            db,
            writes: SampleWrites::default(),
        }
    }

    pub(super) fn db(&self) -> &Db {
        &self.db
    }
}

#[async_trait]
impl Reachable for SqliteSamples {
    async fn ping(&self) -> Result<()> {
        self.db.ping().await
    }
}

/// One file: one node.
impl SampleNodes for SqliteSamples {}

#[async_trait]
impl SampleStore for SqliteSamples {
    async fn write(&self, blocks: &[SampleBlock]) -> Result<()> {
        self.writes.write(&self.db, blocks).await
    }

    async fn count_frames(&self, patient: &PatientId, from: Nanos, to: Nanos) -> Result<u64> {
        let patient = patient.clone();
        self.db
            .call(move |conn| {
                let blocks = overlapping(conn, &patient, from, to, false)?;
                Ok(blocks
                    .iter()
                    .map(|(block, frames)| frames_within(block, *frames, from, to).len() as u64)
                    .sum())
            })
            .await
    }

    async fn frames(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<(Nanos, Vec<i16>)>> {
        let patient = patient.clone();
        self.db
            .call(move |conn| frames_in(conn, &patient, from, to))
            .await
    }

    async fn downsampled(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<EcgEnvelope>> {
        let patient = patient.clone();
        self.db
            .call(move |conn| super::retention::downsampled_in(conn, &patient, from, to))
            .await
    }
}

/// Frames of `patient` in `[from, to)`, in time order (also what the retention sweep
/// downsamples).
pub(super) fn frames_in(
    conn: &mut Connection,
    patient: &PatientId,
    from: Nanos,
    to: Nanos,
) -> Result<Vec<(Nanos, Vec<i16>)>> {
    let mut out = Vec::new();
    for (block, frames) in overlapping(conn, patient, from, to, true)? {
        for i in frames_within(&block, frames, from, to) {
            out.push((block.time_of(i), block.frame(i).to_vec()));
        }
    }
    Ok(out)
}

/// Blocks of `patient` with at least one frame time in `[from, to)`, in time order, with
/// their frame counts; samples are decoded only when `with_samples`.
fn overlapping(
    conn: &mut Connection,
    patient: &PatientId,
    from: Nanos,
    to: Nanos,
    with_samples: bool,
) -> Result<Vec<(SampleBlock, usize)>> {
    if from >= to {
        return Ok(Vec::new());
    }
    // One read transaction so the span and the blocks come from the same snapshot.
    let tx = conn.transaction().map_err(map_err)?;
    let span: Option<i64> = tx
        .query_row(
            "SELECT max_span_ns FROM sample_spans WHERE patient = ?1",
            [patient.as_str()],
            |row| row.get(0),
        )
        .optional()
        .map_err(map_err)?;
    let Some(span) = span else {
        return Ok(Vec::new());
    };
    let mut stmt = tx
        .prepare_cached(
            "SELECT start_ns, device, seq, rate_hz, leads, frames,
                    CASE WHEN ?5 THEN samples ELSE x'' END
             FROM sample_blocks
             WHERE patient = ?1 AND start_ns >= ?2 AND start_ns < ?3 AND end_ns > ?4
             ORDER BY start_ns",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map(
            params![
                patient.as_str(),
                from.saturating_sub(span),
                to,
                from,
                with_samples
            ],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, u32>(3)?,
                    row.get::<_, u8>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, Vec<u8>>(6)?,
                ))
            },
        )
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (start_ns, device, seq, rate_hz, leads, frames, blob) = row.map_err(map_err)?;
        let device = DeviceId::parse(&device).map_err(|_| {
            StoreError::Corrupt(format!("bad device id in sample_blocks: {device:?}"))
        })?;
        let frames = usize::try_from(frames)
            .map_err(|_| StoreError::Corrupt(format!("negative frame count {frames}")))?;
        let samples_uv = decode(&blob, with_samples.then_some(frames * usize::from(leads)))?;
        let block = SampleBlock {
            patient: patient.clone(),
            device,
            seq: u64::try_from(seq).unwrap_or_default(),
            start_ns,
            rate_hz,
            leads,
            samples_uv,
            lead_off: false,
        };
        out.push((block, frames));
    }
    Ok(out)
}

/// i16 LE samples; `expected` is the sample count the row claims, checked when given.
pub(super) fn decode(blob: &[u8], expected: Option<usize>) -> Result<Vec<i16>> {
    let Some(expected) = expected else {
        return Ok(Vec::new());
    };
    if blob.len() != expected * 2 {
        return Err(StoreError::Corrupt(format!(
            "sample blob has {} bytes, expected {}",
            blob.len(),
            expected * 2
        )));
    }
    Ok(blob
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect())
}

/// Indexes of the frames of `block` (which has `frames` frames) whose time is in
/// `[from, to)`. Frame times grow with the index, so two binary searches find them.
fn frames_within(block: &SampleBlock, frames: usize, from: Nanos, to: Nanos) -> Range<usize> {
    let first = partition(frames, |i| block.time_of(i) < from);
    let end = partition(frames, |i| block.time_of(i) < to);
    first..end.max(first)
}

/// The first index in `0..len` for which `before` is false (`before` must be true for a
/// prefix and false after it).
fn partition(len: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(frames: usize) -> SampleBlock {
        SampleBlock {
            patient: PatientId::parse("p").expect("valid"),
            device: DeviceId::parse("d").expect("valid"),
            seq: 0,
            start_ns: 1_000,
            rate_hz: 250,
            leads: 1,
            samples_uv: vec![0; frames],
            lead_off: false,
        }
    }

    #[test]
    fn a_range_that_cuts_a_block_keeps_only_its_frames() {
        let b = block(10); // frames at 1_000 + k * 4 ms
        assert_eq!(frames_within(&b, 10, 0, i64::MAX), 0..10);
        assert_eq!(frames_within(&b, 10, b.time_of(2), b.time_of(5)), 2..5);
        assert_eq!(
            frames_within(&b, 10, b.time_of(2) + 1, b.time_of(5) + 1),
            3..6
        );
        assert_eq!(frames_within(&b, 10, b.end_ns(), i64::MAX), 10..10);
    }

    #[test]
    fn blob_length_must_match_the_frame_count() {
        assert!(decode(&[1, 0, 2], Some(2)).is_err());
        assert_eq!(decode(&[1, 0, 0xff, 0xff], Some(2)).ok(), Some(vec![1, -1]));
    }
}
