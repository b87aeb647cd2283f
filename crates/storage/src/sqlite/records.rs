//! The records half of the embedded store; its ports are implemented in the sibling
//! modules (alerts, deliveries, policies, people).

use super::conn::Db;
use crate::audit_sealer::AuditSealer;
use crate::ports::{Reachable, Result};
use async_trait::async_trait;
use std::sync::Arc;

/// Patients, users, devices, policies, alerts and deliveries in the embedded file.
#[derive(Clone)]
pub struct SqliteRecords {
    pub(super) db: Db,
    /// Seals audit events (`audit.rs`); unkeyed until [`SqliteRecords::with_audit`].
    pub(super) sealer: Arc<AuditSealer>,
}

impl SqliteRecords {
    pub(super) fn new(db: Db) -> Self {
        Self {
            db,
            sealer: Arc::new(AuditSealer::unkeyed()),
        }
    }

    /// The same store sealing audit events with `sealer`.
    pub fn with_audit(mut self, sealer: Arc<AuditSealer>) -> Self {
        self.sealer = sealer;
        self
    }
}

#[async_trait]
impl Reachable for SqliteRecords {
    async fn ping(&self) -> Result<()> {
        self.db.ping().await
    }
}
