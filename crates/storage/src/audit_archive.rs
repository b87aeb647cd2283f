//! Archiving the audit log: old events move from the live store into an archive file,
//! never to nowhere (docs/security.md, "Audit trail"). An archive is JSON lines, one
//! stored event a line, exactly as sealed, so the chain runs on across archive files and
//! the live log: the first live event links to the archive's last hash, and
//! `verify_chain_with` checks them as one chain with the same keys and checkpoints. A
//! missing, truncated or edited archive breaks that chain where it happened.

use crate::audit::AuditStore;
use crate::ports::{Result, StoreError};
use cw_core::audit::AuditEvent;
use cw_core::time::Nanos;
use std::io::Write;
use std::path::Path;

/// What [`archive`] moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    pub events: u64,
    /// The first and last `seq` in the file; `None` when nothing was old enough.
    pub seqs: Option<(u64, u64)>,
}

/// Moves the live events older than `before_ns` (never the newest event, which new
/// appends link to) into a new file `out`: written and synced first, read back and
/// compared, and only then dropped from the store. Refuses to overwrite a file.
pub async fn archive(
    store: &dyn AuditStore,
    before_ns: Nanos,
    out: &Path,
) -> Result<ArchiveReport> {
    const PAGE: usize = 10_000;
    let mut events = Vec::new();
    let mut from = 0;
    // Stops at the first event not old enough, or at the head.
    'read: loop {
        let page = store.audit_events(from, PAGE).await?;
        let full = page.len() == PAGE;
        for event in page {
            from = event.seq + 1;
            if event.entry.at_ns >= before_ns {
                break 'read;
            }
            events.push(event);
        }
        if !full {
            // The last one read is the head: it stays.
            events.pop();
            break;
        }
    }
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(ArchiveReport {
            events: 0,
            seqs: None,
        });
    };
    let seqs = (first.seq, last.seq);
    let through_hash = last.hash.clone();
    write_new(out, &events)?;
    if read(out)? != events {
        return Err(StoreError::Corrupt(format!(
            "audit archive {} does not read back as written; the live log is untouched",
            out.display()
        )));
    }
    let dropped = store.drop_archived_audit(seqs.1, &through_hash).await?;
    tracing::info!(
        file = %out.display(),
        first_seq = seqs.0,
        through_seq = seqs.1,
        dropped,
        "audit events archived"
    );
    Ok(ArchiveReport {
        events: events.len() as u64,
        seqs: Some(seqs),
    })
}

/// The events of an archive file, in file order.
pub fn read(path: &Path) -> Result<Vec<AuditEvent>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StoreError::Unavailable(format!("audit archive {}: {e}", path.display())))?;
    crate::json_lines::parse(&text, "audit archive", path)
}

/// Writes a file that did not exist, synced with its directory entry before returning.
fn write_new(path: &Path, events: &[AuditEvent]) -> Result<()> {
    let io = |e: std::io::Error| {
        StoreError::Unavailable(format!("audit archive {}: {e}", path.display()))
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io)?;
    let mut text = String::new();
    for event in events {
        text.push_str(
            &serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}
