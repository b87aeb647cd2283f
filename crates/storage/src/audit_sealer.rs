//! What the adapters seal audit events with: the key ring from `[storage.audit]` and the
//! checkpoint policy. One per process (shared by its record store), so the checkpoint
//! cadence counts this process's appends.

use crate::audit_checkpoints::{CheckpointSink, FileCheckpoints};
use crate::config::AuditConfig;
use crate::ports::{Result, StoreError};
use cw_core::audit::{AuditEntry, AuditEvent, AuditKeys, Checkpoint};
use cw_core::secret::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub struct AuditSealer {
    /// `None`: no key configured; appends are refused (an unkeyed chain is forgeable).
    keys: Option<AuditKeys>,
    checkpoints: Option<Arc<dyn CheckpointSink>>,
    every_events: u64,
    every: Duration,
    /// The last checkpoint this process wrote: (seq, when).
    last: Mutex<Option<(u64, Instant)>>,
}

impl AuditConfig {
    /// The key ring, `Ok(None)` when no key is configured.
    pub fn keys(&self) -> Result<Option<AuditKeys>> {
        let current: SecretString = match (&self.key_hex, &self.key_file) {
            (Some(hex), _) => hex.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    config_err(format!(
                        "cannot read storage.audit.key_file {}: {e}",
                        path.display()
                    ))
                })?
                .into(),
            (None, None) => return Ok(None),
        };
        let mut keys = AuditKeys::new(
            &self.key_id,
            &parse_key(&self.key_id, current.expose_secret())?,
        )
        .map_err(|e| config_err(e.to_string()))?;
        for entry in &self.previous_keys {
            let (id, hex) = entry.expose_secret().split_once(':').ok_or_else(|| {
                config_err("storage.audit.previous_keys entries are \"<id>:<64 hex>\"".into())
            })?;
            keys = keys
                .with_previous(id, &parse_key(id, hex)?)
                .map_err(|e| config_err(e.to_string()))?;
        }
        Ok(Some(keys))
    }

    /// Fails unless a key is configured: for services that append audit events, so a
    /// missing key stops them at start rather than failing every request.
    pub fn require_key(&self) -> Result<AuditKeys> {
        self.keys()?.ok_or_else(no_key)
    }

    /// The configured checkpoint sink, if any.
    pub fn checkpoint_sink(&self) -> Option<Arc<dyn CheckpointSink>> {
        self.checkpoint_file
            .clone()
            .map(|path| Arc::new(FileCheckpoints::new(path)) as Arc<dyn CheckpointSink>)
    }
}

fn config_err(message: String) -> StoreError {
    StoreError::Unavailable(message)
}

fn no_key() -> StoreError {
    config_err(
        "no audit key: set CW_STORAGE__AUDIT__KEY_HEX or storage.audit.key_file \
         (64 hex characters)"
            .into(),
    )
}

fn parse_key(id: &str, text: &str) -> Result<Vec<u8>> {
    let bytes =
        hex::decode(text.trim()).map_err(|_| config_err(format!("audit key {id:?} is not hex")))?;
    if bytes.len() != 32 {
        return Err(config_err(format!(
            "audit key {id:?} must be 32 bytes (64 hex characters)"
        )));
    }
    Ok(bytes)
}

impl AuditSealer {
    pub fn from_config(cfg: &AuditConfig) -> Result<Self> {
        let keys = cfg.keys()?;
        let checkpoints = cfg.checkpoint_sink();
        if keys.is_some() && checkpoints.is_none() {
            tracing::warn!(
                "storage.audit.checkpoint_file is not set: cutting off the newest audit \
                 events will not be detectable"
            );
        }
        Ok(Self {
            keys,
            checkpoints,
            every_events: cfg.checkpoint_every_events.max(1),
            every: Duration::from_secs(cfg.checkpoint_every_s),
            last: Mutex::new(None),
        })
    }

    /// A sealer without a key: every append is refused.
    pub fn unkeyed() -> Self {
        Self {
            keys: None,
            checkpoints: None,
            every_events: 1,
            every: Duration::ZERO,
            last: Mutex::new(None),
        }
    }

    /// Seals `entry` as event `seq` after `prev_hash` with the current key.
    pub fn seal(&self, entry: AuditEntry, seq: u64, prev_hash: &str) -> Result<AuditEvent> {
        let keys = self.keys.as_ref().ok_or_else(no_key)?;
        Ok(AuditEvent::seal(entry, seq, prev_hash, keys))
    }

    /// Called with the newest event this process stored: writes a signed checkpoint of it
    /// when the cadence is due. A failed checkpoint is logged, not returned: the event is
    /// stored already, and the next append tries again.
    pub async fn stored(&self, head: &AuditEvent) {
        let (Some(keys), Some(sink)) = (&self.keys, &self.checkpoints) else {
            return;
        };
        {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            let due = match *last {
                None => true,
                Some((seq, at)) => {
                    head.seq >= seq.saturating_add(self.every_events)
                        || (head.seq > seq && at.elapsed() >= self.every)
                }
            };
            if !due {
                return;
            }
            *last = Some((head.seq, Instant::now()));
        }
        let checkpoint = Checkpoint::sign(head, cw_core::time::now_ns(), keys);
        if let Err(e) = sink.append(&checkpoint).await {
            tracing::error!(error = %e, seq = head.seq, "audit checkpoint not written");
            *self.last.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}
