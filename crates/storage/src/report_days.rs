//! Per-day summaries of the monitoring report (docs/reports.md, "Reports over many
//! days"): the figures of one closed UTC day of a patient, computed once by the api on
//! the first report that covers the day and kept here, so a report over weeks reads a
//! row per day instead of analysing every sample again.

use crate::ports::Result;
use async_trait::async_trait;
use cw_core::PatientId;
use cw_core::time::Nanos;
use serde::{Deserialize, Serialize};

/// One day's summary as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportDay {
    pub patient: PatientId,
    /// 00:00 UTC of the day; the summary covers `[day_ns, day_ns + 24 h)`.
    pub day_ns: Nanos,
    /// The analysis that made it: a reader of another version recomputes the day.
    pub version: u32,
    /// The figures as the analysis serialises them (JSON; opaque to the store).
    pub part: String,
    pub made_ns: Nanos,
}

#[async_trait]
pub trait ReportDays: Send + Sync {
    /// Stores the summary of `day.patient`'s `day.day_ns`, replacing one stored before.
    async fn put_report_day(&self, day: &ReportDay) -> Result<()>;

    /// The stored summaries of `patient`'s days starting in `[from_ns, to_ns)`, oldest
    /// first.
    async fn report_days(
        &self,
        patient: &PatientId,
        from_ns: Nanos,
        to_ns: Nanos,
    ) -> Result<Vec<ReportDay>>;
}
