//! What a page carries besides its words (issue 16 item 7, 17 item 5; docs/console.md
//! "Deep links in pages"): the link to the alert in the console, and for email the event
//! strip as an image drawn from the stored ECG around the onset.
//!
//! The strip is a courtesy, never a condition: a page whose samples are missing or whose
//! sample store does not answer goes without it, with a log line and
//! `cw_notifier_email_strip_missing_total` — a doctor must never wait for a picture.

use crate::console_link::ConsoleLinks;
use crate::events::StripMissing;
use crate::metrics::NotifierMetrics;
use crate::strip_image::{self, StripSource};
use cw_core::Alert;
use cw_runtime::InternalEvent;
use cw_storage::SampleReader;
use std::sync::Arc;
use std::time::Duration;

/// How long the sample store may take for one strip before the page goes without it.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Evidence {
    pub links: Option<ConsoleLinks>,
    /// Stored ECG, read only; none where no sample store is wired (benchmarks).
    pub samples: Option<Arc<dyn SampleReader>>,
}

impl Evidence {
    pub fn none() -> Self {
        Self {
            links: None,
            samples: None,
        }
    }

    /// The alert's strip as a PNG, or `None` (logged and counted) when there is nothing
    /// to draw it from.
    pub async fn strip_png(&self, alert: &Alert, metrics: &NotifierMetrics) -> Option<Vec<u8>> {
        let samples = self.samples.as_ref()?;
        let (start_ns, end_ns) = strip_image::window(alert.started_ns, alert.fired_ns);
        let read = tokio::time::timeout(
            READ_TIMEOUT,
            samples.frames(&alert.patient, start_ns, end_ns),
        )
        .await;
        let why = match read {
            Ok(Ok(frames)) if !frames.is_empty() => {
                let raster = strip_image::render(&StripSource {
                    start_ns,
                    onset_ns: alert.started_ns,
                    frames: &frames,
                });
                match strip_image::encode_png(&raster) {
                    Ok(png) => return Some(png),
                    Err(e) => e.to_string(),
                }
            }
            Ok(Ok(_)) => "no ECG stored around the onset".to_owned(),
            Ok(Err(e)) => format!("sample store: {e}"),
            Err(_) => format!("sample store did not answer within {READ_TIMEOUT:?}"),
        };
        StripMissing {
            alert: &alert.id,
            reason: &why,
        }
        .emit(metrics);
        None
    }
}
