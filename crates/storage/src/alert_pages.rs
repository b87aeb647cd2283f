//! The alert list as doctors page through it: filtered by patients, state and priority,
//! newest first, continued from a keyset cursor `(fired_ns, id)` so pages stay stable
//! while new alerts arrive.

use crate::ports::Result;
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{Alert, AlertId, AlertState, PatientId, Priority};

#[derive(Clone, Debug)]
pub struct AlertPageQuery {
    pub patients: Vec<PatientId>,
    pub state: Option<AlertState>,
    pub priority: Option<Priority>,
    /// Only alerts strictly older than this `(fired_ns, id)`: the last one of the
    /// previous page.
    pub before: Option<(Nanos, AlertId)>,
    pub limit: usize,
}

#[async_trait]
pub trait AlertPages: Send + Sync {
    async fn alerts_page(&self, query: &AlertPageQuery) -> Result<Vec<Alert>>;
}
