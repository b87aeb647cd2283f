//! One frame's path, the same for the stream and the batch endpoint:
//! decode → validate → durable write → publish (once per device seq) → reply.

use crate::config::Limits;
use crate::limits::validate;
use crate::metrics::IngestMetrics;
use crate::seqs::{SeqRefusal, SeqWindows};
use crate::writer::Writer;
use cw_bus::Publisher;
use cw_core::messages::SamplesStored;
use cw_core::time::now_ns;
use cw_core::{Device, shard_of, shard_topic};
use cw_protocol::{Frame, FrameError, NackCode, Reply};
use std::sync::Arc;

pub struct Pipeline {
    writer: Writer,
    publisher: Publisher,
    limits: Limits,
    seqs: SeqWindows,
    pub metrics: Arc<IngestMetrics>,
}

impl Pipeline {
    pub fn new(
        writer: Writer,
        publisher: Publisher,
        limits: Limits,
        metrics: Arc<IngestMetrics>,
    ) -> Self {
        Self {
            writer,
            publisher,
            seqs: SeqWindows::new(limits.seq_window, limits.max_seq_jump),
            limits,
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
        match self.seqs.admit(&device.id, seq) {
            Ok(()) => {}
            Err(SeqRefusal::Stale { oldest }) => {
                return self.nack(
                    device,
                    Some(seq),
                    NackCode::StaleSeq,
                    format!(
                        "seq {seq} is older than this device's window (oldest accepted {oldest})"
                    ),
                );
            }
            Err(SeqRefusal::OutOfRange { limit }) => {
                return self.nack(
                    device,
                    Some(seq),
                    NackCode::SeqOutOfRange,
                    format!("seq {seq} is beyond what this device may send now (at most {limit})"),
                );
            }
        }
        let block = match self.writer.write(block).await {
            Ok(block) => block,
            Err(e) => {
                tracing::warn!(device = %device.id, seq, error = %e, "sample write failed; asking the gateway to resend");
                return self.nack(
                    device,
                    Some(seq),
                    NackCode::RetryLater,
                    "storage unavailable, resend later".into(),
                );
            }
        };
        self.seqs.stored(&device.id, seq);
        if self.seqs.first_publication(&device.id, seq) {
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

    /// The reply to a text message on the stream: frames are binary.
    pub fn refuse_text(&self, device: &Device) -> Reply {
        self.nack(
            device,
            None,
            NackCode::BadFrame,
            "send frames as binary messages".into(),
        )
    }

    /// A nack, counted by code and logged (without sample values or PHI).
    pub fn nack(
        &self,
        device: &Device,
        seq: Option<u64>,
        code: NackCode,
        message: String,
    ) -> Reply {
        self.metrics.count_nack(code);
        tracing::info!(device = %device.id, seq, code = code.as_str(), %message, "frame refused");
        Reply::Nack { seq, code, message }
    }
}

/// The sequence number of a frame that failed to decode, if its header got that far, so
/// the gateway knows which frame was refused. Only a header that starts with our version
/// byte has a seq at bytes 4..12: anything else (JSON sent without its content type, a
/// frame of another version) has none, and gets `seq: null` rather than a number made of
/// its bytes.
fn peek_seq(bytes: &[u8]) -> Option<u64> {
    if bytes.first() != Some(&cw_protocol::frame::VERSION) {
        return None;
    }
    bytes
        .get(4..12)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
}
