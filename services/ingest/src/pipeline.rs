//! One frame's path, the same for the stream and the batch endpoint:
//! decode → validate → durable write → publish (once per device seq) → reply.

use crate::config::Limits;
use crate::limits::validate;
use crate::metrics::IngestMetrics;
use cw_bus::{Deduper, Publisher};
use cw_core::messages::SamplesStored;
use cw_core::time::now_ns;
use cw_core::{Device, DeviceId, shard_of, shard_topic};
use cw_protocol::{Frame, FrameError, NackCode, Reply};
use cw_storage::SampleStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Recent sequence numbers remembered per device, so a resent block is stored again
/// (idempotent) but not published twice.
const RECENT_SEQS: usize = 4096;

pub struct Pipeline {
    samples: Arc<dyn SampleStore>,
    publisher: Publisher,
    limits: Limits,
    published: Mutex<HashMap<DeviceId, Deduper>>,
    pub metrics: Arc<IngestMetrics>,
}

impl Pipeline {
    pub fn new(
        samples: Arc<dyn SampleStore>,
        publisher: Publisher,
        limits: Limits,
        metrics: Arc<IngestMetrics>,
    ) -> Self {
        Self {
            samples,
            publisher,
            limits,
            published: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// Handles one binary frame from an authenticated device.
    pub async fn handle_binary(&self, device: &Device, bytes: &[u8]) -> Reply {
        self.metrics.frames.inc();
        match Frame::decode(bytes) {
            Ok(frame) => self.handle_frame(device, frame).await,
            Err(e) => {
                let code = match e {
                    FrameError::TooLarge(_) => NackCode::TooLarge,
                    _ => NackCode::BadFrame,
                };
                self.nack(device, peek_seq(bytes), code, e.to_string())
            }
        }
    }

    /// Handles one decoded frame (binary or JSON).
    pub async fn handle_frame(&self, device: &Device, frame: Frame) -> Reply {
        let seq = frame.seq;
        let received_ns = now_ns();
        let block = match validate(frame, device, &self.limits, received_ns) {
            Ok(block) => block,
            Err(rejection) => {
                return self.nack(device, Some(seq), rejection.code, rejection.message);
            }
        };
        let started = Instant::now();
        if let Err(e) = self.samples.write(std::slice::from_ref(&block)).await {
            self.metrics.store_errors.inc();
            tracing::warn!(device = %device.id, seq, error = %e, "sample write failed; asking the gateway to resend");
            return self.nack(
                device,
                Some(seq),
                NackCode::RetryLater,
                "storage unavailable, resend later".into(),
            );
        }
        self.metrics
            .write_latency
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .samples_stored
            .add(block.samples_uv.len() as u64);
        if self.first_publication(&device.id, seq) {
            let topic = shard_topic(shard_of(&block.patient));
            if let Err(e) = self
                .publisher
                .publish(&topic, &SamplesStored { block, received_ns })
            {
                // Stored already; the engine's no-data rule and the store cover this.
                tracing::warn!(error = %e, "publish failed");
            }
        }
        self.metrics.acks.inc();
        Reply::Ack { seq }
    }

    fn first_publication(&self, device: &DeviceId, seq: u64) -> bool {
        let mut published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        published
            .entry(device.clone())
            .or_insert_with(|| Deduper::new(RECENT_SEQS))
            .first_time(u128::from(seq))
    }

    fn nack(&self, device: &Device, seq: Option<u64>, code: NackCode, message: String) -> Reply {
        self.metrics.count_nack(code);
        tracing::info!(device = %device.id, seq, code = code.as_str(), %message, "frame refused");
        Reply::Nack { seq, code, message }
    }
}

/// The sequence number of a frame that failed to decode, if its header got that far, so
/// the gateway knows which frame was refused.
fn peek_seq(bytes: &[u8]) -> Option<u64> {
    bytes
        .get(4..12)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
}
