//! The per-stage breakdown `cardiowatch bench alerts` prints: the engine's fire trace
//! (wall-clock stamps of each fired alert) joined with when the provider sandbox first
//! saw a request for that patient.

use cw_alert_engine::fire_trace::FireTiming;
use cw_core::time::Nanos;
use std::collections::HashMap;

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One row of the report: a stage and its durations (ms) over the patients.
struct Stage {
    name: &'static str,
    what: &'static str,
    ms: Vec<f64>,
}

/// Prints p50/p99/max per stage for each patient's first fire that reached the provider
/// (`provider_ns`: wall time the sandbox first saw a request for the patient).
pub fn print(fires: &[FireTiming], provider_ns: &HashMap<String, Nanos>) {
    let mut first: HashMap<String, &FireTiming> = HashMap::new();
    for f in fires {
        let e = first.entry(f.patient.to_string()).or_insert(f);
        if f.pushed_ns < e.pushed_ns {
            *e = f;
        }
    }
    let ms = |a: Nanos, b: Nanos| (b - a) as f64 / 1e6;
    let mut stages = [
        Stage {
            name: "sample_to_ingest",
            what: "beat sample time → the block confirming it reached ingest (not in the figure; the simulator sends a block after its last sample, as a device does)",
            ms: vec![],
        },
        Stage {
            name: "lookahead_blocks",
            what: "beat → last sample of the block confirming it (detector look-ahead rounded up to whole blocks; sample time)",
            ms: vec![],
        },
        Stage {
            name: "ingest",
            what: "block at ingest → written, acked, published",
            ms: vec![],
        },
        Stage {
            name: "bus_to_engine",
            what: "published → the engine's loop took it",
            ms: vec![],
        },
        Stage {
            name: "evaluate",
            what: "detector, rules → fire decided",
            ms: vec![],
        },
        Stage {
            name: "writer_queue",
            what: "waiting for the writer task (earlier events' store writes)",
            ms: vec![],
        },
        Stage {
            name: "store",
            what: "open_alert durable",
            ms: vec![],
        },
        Stage {
            name: "push",
            what: "event handed to the notifier PUSH socket",
            ms: vec![],
        },
        Stage {
            name: "notifier_provider",
            what: "pushed → first provider request seen by the sandbox",
            ms: vec![],
        },
        Stage {
            name: "AT_INGEST_TO_PROVIDER",
            what: "block at ingest → first provider request (the target figure)",
            ms: vec![],
        },
    ];
    for (patient, f) in &first {
        let Some(&provider) = provider_ns.get(patient) else {
            continue;
        };
        let b = &f.block;
        let values = [
            ms(f.sample_ns, b.received_ns),
            ms(f.sample_ns, b.block_end_ns),
            ms(b.received_ns, b.published_ns),
            ms(b.published_ns, b.engine_ns),
            ms(b.engine_ns, b.decided_ns),
            ms(b.decided_ns, f.dequeued_ns),
            ms(f.dequeued_ns, f.stored_ns),
            ms(f.stored_ns, f.pushed_ns),
            ms(f.pushed_ns, provider),
            ms(b.received_ns, provider),
        ];
        for (stage, v) in stages.iter_mut().zip(values) {
            stage.ms.push(v);
        }
    }
    println!(
        "stage                     p50_ms   p99_ms   max_ms  (n={})",
        stages[0].ms.len()
    );
    for stage in &mut stages {
        stage.ms.sort_by(f64::total_cmp);
        println!(
            "{:<24} {:>7.1}  {:>7.1}  {:>7.1}  {}",
            stage.name,
            percentile(&stage.ms, 0.5),
            percentile(&stage.ms, 0.99),
            stage.ms.last().copied().unwrap_or(f64::NAN),
            stage.what
        );
    }
}
