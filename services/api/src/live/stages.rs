//! Where a live message's time goes, stage by stage, as `/metrics` histograms — so a view
//! that lags can be attributed (the device or gateway sending late, ingest's store, the
//! bus, the hub and its sockets) instead of guessed at. Stamps are wall clocks of the
//! hosts involved (ingest's `received_ns`, each publisher's envelope `sent_ns`, the api's
//! clock): across hosts the figures include their clock offset.

use cw_core::time::{Nanos, now_ns};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds in seconds: 0.5 ms to 60 s, ~25 % apart, fine enough for a p99 to be read
/// to within a bucket.
const BOUNDS: [f64; 54] = {
    let mut b = [0.0; 54];
    let mut i = 0;
    let mut v = 0.0005;
    while i < 54 {
        b[i] = v;
        v *= 1.25;
        i += 1;
    }
    b
};

/// A latency histogram with one atomic add per observation.
pub struct StageHistogram {
    counts: [AtomicU64; 55],
    sum_us: AtomicU64,
}

impl Default for StageHistogram {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl StageHistogram {
    /// Records the time from `from_ns` to `to_ns`; negative spans (clock steps) count as 0.
    pub fn span(&self, from_ns: Nanos, to_ns: Nanos) {
        let seconds = (to_ns - from_ns).max(0) as f64 / 1e9;
        let bucket = BOUNDS.partition_point(|bound| *bound < seconds);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Records from `from_ns` to now.
    pub fn since(&self, from_ns: Nanos) {
        self.span(from_ns, now_ns());
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in BOUNDS.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound:.6}\"}} {cumulative}");
        }
        cumulative += self.counts[BOUNDS.len()].load(Ordering::Relaxed);
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {cumulative}\n{name}_sum {sum}\n{name}_count {cumulative}"
        );
    }
}

/// The stages of the live path, in the order a message passes them.
#[derive(Default)]
pub struct LiveStages {
    /// A block's last sample → ingest received it: how late the device or gateway sent it
    /// (a gateway whose window of unacked blocks is full holds blocks back).
    pub block_to_ingest: StageHistogram,
    /// Ingest received the block → published it (stored durably, acked, then published).
    pub ingest_to_publish: StageHistogram,
    /// Samples published → the hub took them off the bus (PUB/SUB queues, decrypt, and any
    /// backlog of the hub's shard task).
    pub samples_bus: StageHistogram,
    /// Engine published a heart rate or alert event → the hub took it off the bus.
    pub events_bus: StageHistogram,
    /// The hub queued a message for a patient → one of its sockets finished writing it
    /// (the socket's queue and the WebSocket/TLS write), once per socket.
    pub hub_to_socket: StageHistogram,
}

impl LiveStages {
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.block_to_ingest.render(
            &mut out,
            "cw_api_live_block_to_ingest_seconds",
            "Live ECG: a block's last sample time to ingest receiving it (device/gateway sending late)",
        );
        self.ingest_to_publish.render(
            &mut out,
            "cw_api_live_ingest_to_publish_seconds",
            "Live ECG: ingest received a block to publishing it (durable write, ack)",
        );
        self.samples_bus.render(
            &mut out,
            "cw_api_live_samples_bus_seconds",
            "Live ECG: samples published to the live hub taking them off the bus",
        );
        self.events_bus.render(
            &mut out,
            "cw_api_live_events_bus_seconds",
            "Live HR and alerts: engine event published to the live hub taking it off the bus",
        );
        self.hub_to_socket.render(
            &mut out,
            "cw_api_live_hub_to_socket_seconds",
            "Live: message queued by the hub to a socket having written it (per socket)",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_land_in_cumulative_buckets_and_negative_spans_count_as_zero() {
        let h = StageHistogram::default();
        h.span(0, 3_000_000); // 3 ms
        h.span(0, 2_000_000_000); // 2 s
        h.span(10, 0); // clock stepped back
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        let count = |le: &str| -> u64 {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("x_bucket{{le=\"{le}\"}} ")))
                .and_then(|v| v.parse().ok())
                .expect("bucket present")
        };
        assert_eq!(count("0.000500"), 1, "the negative span is a zero");
        // 3 ms is in the first bucket at or above it, not below.
        let first_at_3ms = BOUNDS.iter().find(|b| **b >= 0.003).expect("a bound");
        let below_3ms = BOUNDS.iter().rev().find(|b| **b < 0.003).expect("a bound");
        assert_eq!(count(&format!("{first_at_3ms:.6}")), 2);
        assert_eq!(count(&format!("{below_3ms:.6}")), 1);
        assert_eq!(count("+Inf"), 3);
        assert!(out.contains("x_count 3"));
    }
}
