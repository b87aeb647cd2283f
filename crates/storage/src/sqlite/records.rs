//! The records half of the embedded store; its ports are implemented in the sibling
//! modules (alerts, deliveries, policies, people).

use super::conn::Db;

/// Patients, users, devices, policies, alerts and deliveries in the embedded file.
#[derive(Clone)]
pub struct SqliteRecords {
    pub(super) db: Db,
}

impl SqliteRecords {
    pub(super) fn new(db: Db) -> Self {
        Self { db }
    }
}
