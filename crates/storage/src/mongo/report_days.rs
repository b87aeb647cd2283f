//! Per-day report summaries on MongoDB: `_id` is `<patient>:<day_ns>`, so storing a day
//! again replaces it; read by the (patient, day_ns) index.

use super::docs::{from_doc, to_doc};
use super::indexes::REPORT_DAYS;
use super::{MongoRecords, map_err};
use crate::ports::Result;
use crate::report_days::{ReportDay, ReportDays};
use async_trait::async_trait;
use cw_core::PatientId;
use cw_core::time::Nanos;
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

#[async_trait]
impl ReportDays for MongoRecords {
    async fn put_report_day(&self, day: &ReportDay) -> Result<()> {
        let id = format!("{}:{}", day.patient, day.day_ns);
        self.coll(REPORT_DAYS)
            .replace_one(doc! { "_id": &id }, to_doc(&id, day)?)
            .upsert(true)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn report_days(
        &self,
        patient: &PatientId,
        from_ns: Nanos,
        to_ns: Nanos,
    ) -> Result<Vec<ReportDay>> {
        let docs: Vec<Document> = self
            .coll(REPORT_DAYS)
            .find(doc! { "patient": patient.as_str(), "day_ns": { "$gte": from_ns, "$lt": to_ns } })
            .sort(doc! { "day_ns": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(from_doc).collect()
    }
}
