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

/// Declares events that only move one counter by one and write no log line (a frame
/// received, a page escalated), one line each instead of a struct and an impl apiece:
///
/// ```ignore
/// cw_runtime::counting_events! {
///     IngestMetrics {
///         /// A frame arrived (before it is checked).
///         pub struct FrameReceived => frames;
///     }
/// }
/// ```
///
/// An event that logs, or moves more than one counter, is written out by hand.
#[macro_export]
macro_rules! counting_events {
    ($metrics:ty { $( $(#[$doc:meta])* $vis:vis struct $event:ident => $counter:ident; )+ }) => {
        $(
            $(#[$doc])*
            $vis struct $event;

            impl $crate::InternalEvent<$metrics> for $event {
                fn emit(self, metrics: &$metrics) {
                    metrics.$counter.inc();
                }
            }
        )+
    };
}

/// The lint test every service runs (`events::tests::metrics_move_only_in_events`):
/// panics naming each metric moved outside `events.rs` under `manifest_dir/src`. Call it
/// with `env!("CARGO_MANIFEST_DIR")`.
pub fn assert_metrics_move_only_in_events(manifest_dir: &str) {
    let src = Path::new(manifest_dir).join("src");
    match metric_moves_outside_events(&src) {
        Ok(outside) => assert!(
            outside.is_empty(),
            "emit an event from events.rs instead: {outside:#?}"
        ),
        Err(e) => panic!("cannot read {}: {e}", src.display()),
    }
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

    crate::counting_events! {
        Things {
            /// Seen once.
            struct SeenOnce => seen;
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
        SeenOnce.emit(&things);
        assert_eq!(
            things.seen.get(),
            6,
            "a counting event moves its counter by one"
        );
    }

    #[test]
    fn the_lint_passes_moves_in_events_and_fails_one_elsewhere() {
        let dir = std::env::temp_dir().join(format!("cw-lint-{}", std::process::id()));
        let src = dir.join("src");
        std::fs::create_dir_all(&src).expect("temp dir");
        std::fs::write(src.join("events.rs"), "metrics.seen.inc();").expect("write");
        assert_metrics_move_only_in_events(dir.to_str().expect("utf-8 temp dir"));
        std::fs::write(src.join("handler.rs"), "self.metrics.seen.add(2);").expect("write");
        let caught = std::panic::catch_unwind(|| {
            assert_metrics_move_only_in_events(dir.to_str().expect("utf-8 temp dir"))
        });
        std::fs::remove_dir_all(&dir).expect("temp dir removed");
        assert!(caught.is_err(), "a move in handler.rs fails the lint");
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
