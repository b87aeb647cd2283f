//! `bench live`'s attribution: the api's live stage histograms (`cw_api_live_*_seconds`
//! in `/metrics`, `services/api/src/live/stages.rs`) read at the start and the end of the
//! measured window, so each stage's p50/p99 covers exactly the window the sockets'
//! latencies do. What the sockets saw beyond the sum of these stages is the client's own
//! delay (reading, TLS, parsing) and the hub's work between bus and queue. Ingest's own
//! store write histogram (`cw_ingest_write_seconds`, one observation per batch) splits
//! the "ingest received → published" stage into the write itself and the wait before it.

use std::collections::BTreeMap;

/// The stages in path order, with how the report names them.
pub const STAGES: &[(&str, &str)] = &[
    (
        "cw_api_live_block_to_ingest_seconds",
        "ecg  block end -> ingest received",
    ),
    (
        "cw_api_live_ingest_to_publish_seconds",
        "ecg  ingest received -> published",
    ),
    ("cw_api_live_samples_bus_seconds", "ecg  published -> hub"),
    (
        "cw_api_live_events_bus_seconds",
        "hr   engine published -> hub",
    ),
    (
        "cw_api_live_hub_to_socket_seconds",
        "all  hub queued -> socket written",
    ),
];

/// Ingest's store write per batch (the coarse shared latency buckets, 1 ms … 10 s).
pub const INGEST_WRITE: &str = "cw_ingest_write_seconds";

/// Cumulative bucket counts per histogram: name → [(upper bound s, count)].
pub type Snapshot = BTreeMap<String, Vec<(f64, u64)>>;

/// Parses the `_bucket` lines of the stage histograms out of a `/metrics` answer.
pub fn parse(metrics: &str) -> Snapshot {
    let mut out = Snapshot::new();
    for line in metrics.lines() {
        let Some((name, rest)) = line.split_once("_bucket{le=\"") else {
            continue;
        };
        if name != INGEST_WRITE && !STAGES.iter().any(|(stage, _)| *stage == name) {
            continue;
        }
        let Some((le, count)) = rest.split_once("\"} ") else {
            continue;
        };
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::NAN)
        };
        if let Ok(count) = count.trim().parse::<u64>() {
            out.entry(name.to_owned()).or_default().push((bound, count));
        }
    }
    out
}

/// The `q` quantile in ms of what was observed between two snapshots: the upper bound of
/// the bucket it falls in (so read "at most"), `None` when nothing was observed.
pub fn quantile_ms(before: &Snapshot, after: &Snapshot, name: &str, q: f64) -> Option<f64> {
    let after = after.get(name)?;
    let before_count = |i: usize| {
        before
            .get(name)
            .and_then(|b| b.get(i))
            .map_or(0, |(_, c)| *c)
    };
    let counts: Vec<(f64, u64)> = after
        .iter()
        .enumerate()
        .map(|(i, (bound, c))| (*bound, c.saturating_sub(before_count(i))))
        .collect();
    let total = counts.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    counts
        .iter()
        .find(|(_, c)| *c >= rank)
        .map(|(bound, _)| bound * 1000.0)
}

/// A gauge's value in a `/metrics` answer.
pub fn gauge(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Observations of `name` between two snapshots.
pub fn count(before: &Snapshot, after: &Snapshot, name: &str) -> u64 {
    let last = |s: &Snapshot| s.get(name).and_then(|b| b.last()).map_or(0, |(_, c)| *c);
    last(after).saturating_sub(last(before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_cover_only_what_was_observed_between_the_snapshots() {
        let name = "cw_api_live_samples_bus_seconds";
        let text = |a: u64, b: u64, inf: u64| {
            format!(
                "# TYPE {name} histogram\n{name}_bucket{{le=\"0.010000\"}} {a}\n\
                 {name}_bucket{{le=\"0.100000\"}} {b}\n{name}_bucket{{le=\"+Inf\"}} {inf}\n\
                 {name}_count {inf}\nother_bucket{{le=\"1\"}} 5\n"
            )
        };
        // Before: 100 fast observations; the window adds 1 fast, 98 at ≤ 100 ms, 1 slow.
        let before = parse(&text(100, 100, 100));
        let after = parse(&text(101, 199, 200));
        assert_eq!(count(&before, &after, name), 100);
        assert_eq!(quantile_ms(&before, &after, name, 0.01), Some(10.0));
        assert_eq!(quantile_ms(&before, &after, name, 0.5), Some(100.0));
        assert_eq!(quantile_ms(&before, &after, name, 0.99), Some(100.0));
        assert_eq!(quantile_ms(&before, &after, name, 1.0), Some(f64::INFINITY));
        assert!(!after.contains_key("other"));
        assert_eq!(quantile_ms(&after, &after, name, 0.5), None);
        let depth = "# TYPE cw_ingest_queue_depth gauge\ncw_ingest_queue_depth 17\n";
        assert_eq!(gauge(depth, "cw_ingest_queue_depth"), Some(17.0));
        assert_eq!(gauge(depth, "cw_ingest_queue"), None);
    }
}
