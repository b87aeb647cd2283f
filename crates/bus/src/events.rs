//! What happens on the bus, each event's log line and counter written once
//! (docs/architecture.md, "Internal events"). The counters are the `BusStats` a service
//! exports; nothing else in this crate moves them. Logs name endpoints and errors only,
//! never a message body.

use crate::BusError;
use crate::reject_log::RejectLog;
use crate::stats::BusStats;
use cw_runtime::InternalEvent;
use std::sync::atomic::{AtomicU64, Ordering};

fn count(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A message was queued (PUB) or handed to a puller (PUSH).
pub(crate) struct MessageSent;

impl InternalEvent<BusStats> for MessageSent {
    fn emit(self, stats: &BusStats) {
        count(&stats.sent, 1);
    }
}

/// A message was not sent: the PUB queue was full, or no puller took the PUSH. Not
/// logged: the caller keeps the message (the store is the source of truth), and a
/// stalled socket would otherwise log every message.
pub(crate) struct SendFailed;

impl InternalEvent<BusStats> for SendFailed {
    fn emit(self, stats: &BusStats) {
        count(&stats.send_failed, 1);
    }
}

/// A message opened and is handed to the service.
pub(crate) struct MessageReceived;

impl InternalEvent<BusStats> for MessageReceived {
    fn emit(self, stats: &BusStats) {
        count(&stats.received, 1);
    }
}

/// A PUSH already seen (resent after a timeout): dropped.
pub(crate) struct DuplicateDropped;

impl InternalEvent<BusStats> for DuplicateDropped {
    fn emit(self, stats: &BusStats) {
        count(&stats.duplicates, 1);
    }
}

/// Messages a subscriber never saw: a gap in a publisher's sequence on one topic.
pub(crate) struct MessagesLost {
    pub messages: u64,
}

impl InternalEvent<BusStats> for MessagesLost {
    fn emit(self, stats: &BusStats) {
        count(&stats.lost, self.messages);
    }
}

/// A message did not open (wrong key, tampered, malformed, unknown envelope version):
/// dropped. Every one is counted; the warning is written at most once per interval per
/// reader (`reject_log.rs`), saying how many were not logged in between.
pub(crate) struct MessageRejected<'a> {
    pub error: &'a BusError,
    pub log: &'a mut RejectLog,
}

impl InternalEvent<BusStats> for MessageRejected<'_> {
    fn emit(self, stats: &BusStats) {
        count(&stats.rejected, 1);
        if let Some(not_logged) = self.log.due() {
            tracing::warn!(
                error = %self.error,
                not_logged_since_last = not_logged,
                "dropped a bus message that did not open (logged at most every 10 s; every one is counted)"
            );
        }
    }
}

/// Re-resolving an endpoint's DNS name failed; its last peers are kept.
pub(crate) struct ResolveFailed<'a> {
    pub endpoint: &'a str,
    pub error: &'a str,
    pub kept: usize,
}

impl InternalEvent<BusStats> for ResolveFailed<'_> {
    fn emit(self, stats: &BusStats) {
        count(&stats.resolve_failed, 1);
        tracing::warn!(endpoint = %self.endpoint, error = %self.error, kept = self.kept, "resolving a bus endpoint failed; keeping its last peers");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Emit = Box<dyn Fn(&BusStats)>;
    type Read = fn(&BusStats) -> &AtomicU64;

    #[test]
    fn each_event_moves_its_counter() {
        let read: [(&str, Read, Emit); 7] = [
            ("sent", |s| &s.sent, Box::new(|s| MessageSent.emit(s))),
            (
                "send_failed",
                |s| &s.send_failed,
                Box::new(|s| SendFailed.emit(s)),
            ),
            (
                "received",
                |s| &s.received,
                Box::new(|s| MessageReceived.emit(s)),
            ),
            (
                "duplicates",
                |s| &s.duplicates,
                Box::new(|s| DuplicateDropped.emit(s)),
            ),
            (
                "lost",
                |s| &s.lost,
                Box::new(|s| MessagesLost { messages: 1 }.emit(s)),
            ),
            (
                "rejected",
                |s| &s.rejected,
                Box::new(|s| {
                    MessageRejected {
                        error: &BusError::Rejected("authentication failed"),
                        log: &mut RejectLog::default(),
                    }
                    .emit(s)
                }),
            ),
            (
                "resolve_failed",
                |s| &s.resolve_failed,
                Box::new(|s| {
                    ResolveFailed {
                        endpoint: "tcp://engine:5551",
                        error: "no such host",
                        kept: 2,
                    }
                    .emit(s)
                }),
            ),
        ];
        for (name, counter, emit) in read {
            let stats = BusStats::default();
            emit(&stats);
            emit(&stats);
            assert_eq!(BusStats::get(counter(&stats)), 2, "{name}");
        }
    }

    /// The counters move only here: no `fetch_add` on `BusStats` anywhere else in the
    /// crate (the peers gauge, state rather than an event, is set by `links.rs`).
    #[test]
    fn counters_move_only_in_events() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut outside = Vec::new();
        for entry in std::fs::read_dir(&src).expect("readable sources") {
            let path = entry.expect("readable sources").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name == "events.rs" || !name.ends_with(".rs") {
                continue;
            }
            let text: String = std::fs::read_to_string(&path)
                .expect("readable sources")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            for (at, _) in text.match_indices("stats.") {
                let field: String = text[at + "stats.".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let call = &text[at + "stats.".len() + field.len()..];
                if field != "peers" && call.starts_with(".fetch_add(") {
                    outside.push(format!("{name}: stats.{field}.fetch_add("));
                }
            }
        }
        assert!(
            outside.is_empty(),
            "emit an event from events.rs instead: {outside:#?}"
        );
    }
}
