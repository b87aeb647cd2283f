//! Internal events: each thing that happens inside a service writes its log line and
//! moves its metric in one place (docs/architecture.md, "Internal events").
//!
//! An event is a plain struct of what the log line names (borrowed, so emitting it costs
//! no allocation), declared once in its service's `events.rs`; its [`InternalEvent::emit`]
//! writes the `tracing` line, if the event has one, and moves the service's counters. Call
//! sites say *what happened* and never pair a counter with a log line by hand, so the two
//! cannot drift apart.

use std::path::Path;

/// One kind of thing that happened inside a service. `M` is the service's metrics
/// (e.g. its `IngestMetrics`): the metrics live in the service, not in a global registry,
/// so tests and the in-process demo run several services side by side.
pub trait InternalEvent<M: ?Sized> {
    /// Writes the event's log line (if it has one) and moves its metrics.
    fn emit(self, metrics: &M);
}

/// The places under `src` (a service's source directory) that move a metric outside its
/// `events.rs` (or `internal_events/`) and `metrics.rs`: `metrics.<field>.inc()`,
/// `.add(…)` or `.observe(…)`, across line breaks. Each service's lint test asserts it is
/// empty, so a new counter comes with its event. Gauges (`AtomicU64` stores) are state,
/// not events, and are not looked for.
pub fn metric_moves_outside_events(src: &Path) -> std::io::Result<Vec<String>> {
    let mut found = Vec::new();
    visit(src, &mut found)?;
    found.sort();
    Ok(found)
}

fn visit(dir: &Path, found: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if name != "internal_events" {
                visit(&path, found)?;
            }
        } else if name.ends_with(".rs") && name != "events.rs" && name != "metrics.rs" {
            let text = std::fs::read_to_string(&path)?;
            found.extend(
                metric_moves(&text)
                    .into_iter()
                    .map(|m| format!("{}: {m}", path.display())),
            );
        }
    }
    Ok(())
}

/// `metrics.<path>.inc()` / `.add(` / `.observe(` in `text`, whitespace ignored.
fn metric_moves(text: &str) -> Vec<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut found = Vec::new();
    let mut rest = compact.as_str();
    while let Some(at) = rest.find("metrics.") {
        let after = &rest[at + "metrics.".len()..];
        let chain_len = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(after.len());
        let chain = &after[..chain_len];
        let call = &after[chain_len..];
        if call.starts_with('(')
            && [".inc", ".add", ".observe"]
                .iter()
                .any(|m| chain.ends_with(m))
        {
            found.push(format!("metrics.{chain}("));
        }
        rest = after;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Counter;

    struct Things {
        seen: Counter,
    }

    struct Seen(u64);

    impl InternalEvent<Things> for Seen {
        fn emit(self, metrics: &Things) {
            tracing::info!(n = self.0, "seen");
            metrics.seen.add(self.0);
        }
    }

    #[test]
    fn an_emitted_event_moves_its_metric() {
        let things = Things {
            seen: Counter::default(),
        };
        Seen(2).emit(&things);
        Seen(3).emit(&things);
        assert_eq!(things.seen.get(), 5);
    }

    #[test]
    fn the_lint_finds_counter_moves_across_line_breaks_and_ignores_other_calls() {
        let text = "self.metrics.acks.inc();\n metrics\n    .samples\n    .add(3);\n\
                    state.pipeline.metrics.write.observe(0.1);\n alert.episode.add(1);\n\
                    Seen(1).emit(&self.metrics);\n self.metrics.queue.store(1, Relaxed);";
        assert_eq!(
            metric_moves(text),
            [
                "metrics.acks.inc(",
                "metrics.samples.add(",
                "metrics.write.observe(",
            ]
        );
    }
}
