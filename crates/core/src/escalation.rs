//! "Escalate now" (issue 16): a clinician asks for the next step of a firing alert's
//! escalation chain to be paged at once instead of after the ack deadline. The api never
//! pages: it stores the request on the alert (`Alert.escalation`,
//! `POST /v1/alerts/{id}/escalate`) and the notifier, which re-reads every open alert
//! each sweep, pages that step (`cw_notifier::plan::escalation_level`), as it stops on
//! a REST ack it finds in the store.

use crate::time::Nanos;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EscalationRequest {
    /// The step to page from `at_ns`: one past the highest step paged when it was asked
    /// for (1 = the first doctor of the chain). The ack-deadline clock restarts for it.
    pub level: u32,
    pub at_ns: Nanos,
    pub by: String,
}
