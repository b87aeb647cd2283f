//! IHE PCD Alert Communication Management (issue 17 item 2): every alarm state change
//! goes to each configured alert manager as PCD-04 (`ORU^R40`) over MLLP, and the
//! manager's PCD-05 / accept acknowledgement is recorded on the delivery row.
//! Message building is pure (`hl7`, `pcd04`, `pcd05`), the transport is `mllp`, and
//! `report` puts both on the notifier's outbox; docs/integration.md, "Alert managers".

pub mod hl7;
pub mod mllp;
pub mod pcd04;
pub mod pcd05;
pub(crate) mod report;

use cw_runtime::Counter;
use std::sync::atomic::AtomicU64;

/// What ops see of the alert manager links (`/metrics`, rendered in `metrics.rs`).
#[derive(Default)]
pub struct AcmMetrics {
    pub accepted: Counter,
    pub errors: Counter,
    pub rejected: Counter,
    pub links_lost: Counter,
    /// Configured managers whose link is down now.
    pub down: AtomicU64,
}
