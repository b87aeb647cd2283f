//! What ingest answers to every frame: an ack once the samples are durable, or a nack
//! with a typed code the gateway can act on.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NackCode {
    /// Not a decodable frame (truncated, wrong version, length mismatch). Do not resend.
    BadFrame,
    /// Larger than 64 KiB. Split it.
    TooLarge,
    /// Sampling rate outside 50–2000 Hz.
    RateOutOfRange,
    /// Lead count outside 1–12.
    LeadsOutOfRange,
    /// A sample that is not finite or outside ±20 mV.
    ValueOutOfRange,
    /// A vital-sign numeric outside what its sensor can read on a living patient (a
    /// sensor-off 0 sent as a reading, a scaling fault), or a site its kind cannot have.
    ImplausibleValue,
    /// Start time more than 5 minutes from the server clock.
    ClockSkew,
    /// Sequence number older than the device's resend window.
    StaleSeq,
    /// Sequence number no counter reaches: beyond 2^63 − 1, or further above the
    /// device's highest stored seq than `limits.max_seq_jump`. Refused without moving the
    /// device's window, so one absurd frame cannot lock the device out.
    SeqOutOfRange,
    /// Storage is unavailable: keep the frame and resend later.
    RetryLater,
}

impl NackCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadFrame => "bad_frame",
            Self::TooLarge => "too_large",
            Self::RateOutOfRange => "rate_out_of_range",
            Self::LeadsOutOfRange => "leads_out_of_range",
            Self::ValueOutOfRange => "value_out_of_range",
            Self::ImplausibleValue => "implausible_value",
            Self::ClockSkew => "clock_skew",
            Self::StaleSeq => "stale_seq",
            Self::SeqOutOfRange => "seq_out_of_range",
            Self::RetryLater => "retry_later",
        }
    }

    /// Whether the gateway should keep the frame and send it again.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::RetryLater)
    }
}

/// One reply per frame, sent as a WebSocket text message (or an HTTP JSON body).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Ack {
        seq: u64,
    },
    Nack {
        seq: Option<u64>,
        code: NackCode,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_have_a_stable_json_shape() {
        let ack = serde_json::to_string(&Reply::Ack { seq: 3 }).expect("serialises");
        assert_eq!(ack, r#"{"type":"ack","seq":3}"#);
        let nack = serde_json::to_value(Reply::Nack {
            seq: Some(4),
            code: NackCode::ClockSkew,
            message: "start time is 10 min ahead".into(),
        })
        .expect("serialises");
        assert_eq!(nack["code"], "clock_skew");
        assert_eq!(nack["type"], "nack");
    }
}
