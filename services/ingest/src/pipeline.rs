//! One frame's path, the same for the stream and the batch endpoint:
//! decode → validate → durable write → publish (once per device seq) → reply; sample
//! blocks on `s/{shard}`, numerics on `v/{shard}` of the same PUB socket.

use crate::config::Limits;
use crate::events::{FrameAcked, FrameReceived, FrameRefused};
use crate::limits::validate;
use crate::metrics::IngestMetrics;
use crate::seqs::{SeqRefusal, SeqWindows};
use crate::unmonitored::Streaming;
use crate::writer::Writer;
use cw_bus::Publisher;
use cw_core::messages::{SamplesStored, VitalsStored};
use cw_core::time::now_ns;
use cw_core::{Device, SampleBlock, VitalBatch, shard_of, shard_topic, vitals_topic};
use cw_protocol::{AnyFrame, Frame, NackCode, NumericsFrame, Reply};
use cw_runtime::InternalEvent;
use std::sync::Arc;

pub struct Pipeline {
    writer: Writer<SampleBlock>,
    /// Numerics have their own coalescing writer: batched like the samples (one store
    /// write per frame slowed the ECG path, docs/benchmarks.md "Numerics beside the
    /// ECG"), but never queued behind an ECG batch.
    vitals: Writer<VitalBatch>,
    publisher: Publisher,
    /// The same socket, kind `Vitals` on topics `v/{shard}`.
    vitals_publisher: Publisher,
    limits: Limits,
    seqs: SeqWindows,
    pub metrics: Arc<IngestMetrics>,
    /// Who is streaming, for the unmonitored-patient check.
    streaming: Arc<Streaming>,
}

impl Pipeline {
    pub fn new(
        writer: Writer<SampleBlock>,
        vitals: Writer<VitalBatch>,
        publisher: Publisher,
        limits: Limits,
        metrics: Arc<IngestMetrics>,
        streaming: Arc<Streaming>,
    ) -> Self {
        Self {
            writer,
            vitals,
            streaming,
            vitals_publisher: publisher.sibling(cw_bus::Kind::Vitals),
            publisher,
            seqs: SeqWindows::new(limits.seq_window, limits.max_seq_jump),
            limits,
            metrics,
        }
    }

    /// Handles one binary frame (samples or numerics) from an authenticated device.
    pub async fn handle_binary(&self, device: &Device, bytes: &[u8]) -> Reply {
        FrameReceived.emit(&self.metrics);
        match cw_protocol::decode_binary(bytes) {
            Ok(frame) => self.handle_any(device, frame).await,
            Err(e) => {
                let code = if e.is_too_large() {
                    NackCode::TooLarge
                } else {
                    NackCode::BadFrame
                };
                self.nack(device, peek_seq(bytes), code, e.to_string())
            }
        }
    }

    /// Handles one decoded frame of either type (binary or JSON).
    pub async fn handle_any(&self, device: &Device, frame: AnyFrame) -> Reply {
        match frame {
            AnyFrame::Samples(frame) => self.handle_frame(device, frame).await,
            AnyFrame::Numerics(frame) => self.handle_numerics(device, frame).await,
        }
    }

    /// Handles one decoded sample frame.
    pub async fn handle_frame(&self, device: &Device, frame: Frame) -> Reply {
        let seq = frame.seq;
        let received_ns = now_ns();
        let block = match validate(frame, device, &self.limits, received_ns) {
            Ok(block) => block,
            Err(rejection) => {
                return self.nack(device, Some(seq), rejection.code, rejection.message);
            }
        };
        if let Err(refused) = self.admit_seq(device, seq) {
            return refused;
        }
        let block = match self.writer.write(block).await {
            Ok(block) => block,
            Err(e) => {
                tracing::warn!(device = %device.id, seq, error = %e, "sample write failed; asking the gateway to resend");
                return self.retry_later(device, seq);
            }
        };
        self.seqs.stored(&device.id, seq);
        self.streaming.stored(&block.patient);
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
        FrameAcked.emit(&self.metrics);
        Reply::Ack { seq }
    }

    /// Handles one decoded numerics frame: judged item by item (an implausible value is a
    /// typed nack, a sensor-off value a stored status), stored, then acked. The device's
    /// sequence window is the one its sample frames use (one counter per device).
    pub async fn handle_numerics(&self, device: &Device, frame: NumericsFrame) -> Reply {
        let seq = frame.seq;
        let received_ns = now_ns();
        let readings = match frame.validate(received_ns, self.limits.max_clock_skew_s) {
            Ok(readings) => readings,
            Err(rejection) => {
                return self.nack(device, Some(seq), rejection.code(), rejection.to_string());
            }
        };
        if let Err(refused) = self.admit_seq(device, seq) {
            return refused;
        }
        let batch = VitalBatch {
            patient: device.patient.clone(),
            device: device.id.clone(),
            seq,
            readings,
        };
        let batch = match self.vitals.write(batch).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(device = %device.id, seq, error = %e, "numerics write failed; asking the gateway to resend");
                return self.retry_later(device, seq);
            }
        };
        self.seqs.stored(&device.id, seq);
        if self.seqs.first_publication(&device.id, seq) {
            let topic = vitals_topic(shard_of(&batch.patient));
            if let Err(e) = self
                .vitals_publisher
                .publish(&topic, &VitalsStored { batch, received_ns })
            {
                // Stored already: the engine misses this reading, the store keeps it.
                tracing::warn!(error = %e, "publish failed");
            }
        }
        FrameAcked.emit(&self.metrics);
        Reply::Ack { seq }
    }

    /// Admits `seq` into the device's window, or the nack that refuses it.
    fn admit_seq(&self, device: &Device, seq: u64) -> Result<(), Reply> {
        match self.seqs.admit(&device.id, seq) {
            Ok(()) => Ok(()),
            Err(SeqRefusal::Stale { oldest }) => Err(self.nack(
                device,
                Some(seq),
                NackCode::StaleSeq,
                format!("seq {seq} is older than this device's window (oldest accepted {oldest})"),
            )),
            Err(SeqRefusal::OutOfRange { limit }) => Err(self.nack(
                device,
                Some(seq),
                NackCode::SeqOutOfRange,
                format!("seq {seq} is beyond what this device may send now (at most {limit})"),
            )),
        }
    }

    /// The nack for a frame whose store write failed: the gateway resends it.
    fn retry_later(&self, device: &Device, seq: u64) -> Reply {
        self.nack(
            device,
            Some(seq),
            NackCode::RetryLater,
            "storage unavailable, resend later".into(),
        )
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
        FrameRefused {
            device: &device.id,
            seq,
            code,
            message: &message,
        }
        .emit(&self.metrics);
        Reply::Nack { seq, code, message }
    }
}

/// The sequence number of a frame that failed to decode, if its header got that far, so
/// the gateway knows which frame was refused. Only a header that starts with a frame type
/// we know (1 samples, 2 numerics) has a seq at bytes 4..12: anything else (JSON sent
/// without its content type, a frame of another version) has none, and gets `seq: null`
/// rather than a number made of its bytes.
fn peek_seq(bytes: &[u8]) -> Option<u64> {
    let known = [
        cw_protocol::frame::VERSION,
        cw_protocol::numerics::FRAME_TYPE,
    ];
    if !bytes.first().is_some_and(|b| known.contains(b)) {
        return None;
    }
    bytes
        .get(4..12)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
}
