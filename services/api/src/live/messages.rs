//! The JSON text messages a live socket sends (documented in `docs/live.md` and in
//! the OpenAPI description of `GET /v1/patients/{id}/live`).

use crate::alert_view::AlertView;
use crate::routes::ecg::Bucket;
use cw_analysis::news2_escalation::News2Assessment;
use cw_core::VitalReading;
use cw_core::time::Nanos;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage<'a> {
    /// First message: what this socket carries and its limits.
    Hello {
        patient: &'a str,
        ecg_max_hz: u32,
        queue: usize,
        session_s: u64,
    },
    /// The worklist socket's first message (`GET /v1/alerts/live`): how many patients it
    /// carries the alerts of, and its limits.
    #[serde(rename = "hello")]
    WorklistHello {
        patients: usize,
        queue: usize,
        session_s: u64,
    },
    /// Heart rate after a beat at `at_ns` (sample time); `bpm` as the policy's HR rules
    /// see it, `instant_bpm` from this RR interval alone.
    Hr {
        at_ns: Nanos,
        bpm: f32,
        instant_bpm: f32,
        rr_ms: f64,
    },
    /// An alert of this patient (on the worklist socket: of any of the caller's patients):
    /// `event` is `open` (already open when the socket opened), `fired`, `acknowledged`
    /// or `resolved`, and on the worklist socket also `updated` (snoozed, triaged,
    /// escalated, its episode grown); `alert` as the REST api shows it. Boxed: an alert
    /// is by far the largest message.
    Alert {
        event: &'a str,
        alert: Box<AlertView>,
    },
    /// ECG, min and max µV per lead for each bucket of `bucket_ns`.
    Ecg {
        bucket_ns: Nanos,
        buckets: &'a [Bucket],
    },
    /// The analysis of the patient's stream: `learning` (not enough clean signal yet since
    /// it started; only asystole and technical alarms can fire) or `analysing`. A
    /// technical state, not an alarm; sent when it changes and at connect when known.
    Analysis { at_ns: Nanos, state: &'a str },
    /// Numerics of one gateway frame as ingest stored them (readings and sensor
    /// statuses, as `GET /v1/patients/{id}/vitals` shows them).
    Vitals { readings: &'a [VitalReading] },
    /// NEWS2 the alert-engine scored after a batch of numerics, with each component,
    /// the missing and the assumed parameters (as `GET /v1/patients/{id}/vitals` shows
    /// it); sent when it arrives and at connect when known.
    News2 { news2: &'a News2Assessment },
    /// A page of an open alert on the worklist socket, as `GET /v1/alerts/{id}/deliveries`
    /// lists it (channel, recipient, escalation step `attempt`, status): sent when the
    /// notifier records it or moves it on (sent, delivered, failed, acknowledged), and at
    /// connect for each open alert's pages.
    Delivery { delivery: &'a cw_core::Delivery },
    /// This socket fell behind and `dropped` messages (in total so far) were skipped.
    Dropped { dropped: u64 },
}

impl<'a> LiveMessage<'a> {
    /// An `alert` message: `event` with the alert as the REST api shows it.
    pub fn alert(event: &'a str, alert: &cw_core::Alert) -> Self {
        Self::Alert {
            event,
            alert: Box::new(alert.clone().into()),
        }
    }

    pub fn to_text(&self) -> String {
        // Serializing these plain structs cannot fail; an empty object is a safe fallback.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}
