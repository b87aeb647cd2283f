//! Paged alert lists on MongoDB (uses the `patient + fired_ns` index).

use super::docs::from_doc;
use super::indexes::ALERTS;
use super::{MongoRecords, map_err};
use crate::alert_pages::{AlertPageQuery, AlertPages};
use crate::ports::Result;
use async_trait::async_trait;
use cw_core::{Alert, PatientId};
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

#[async_trait]
impl AlertPages for MongoRecords {
    async fn alerts_page(&self, q: &AlertPageQuery) -> Result<Vec<Alert>> {
        if q.patients.is_empty() || q.limit == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = q.patients.iter().map(PatientId::as_str).collect();
        let mut filter = doc! { "patient": { "$in": ids } };
        if let Some(state) = q.state {
            filter.insert("state", state.as_str());
        }
        if let Some(priority) = q.priority {
            filter.insert("priority", priority.as_str());
        }
        if let Some((ns, id)) = &q.before {
            filter.insert(
                "$or",
                vec![
                    doc! { "fired_ns": { "$lt": ns } },
                    doc! { "fired_ns": ns, "_id": { "$lt": id.as_str() } },
                ],
            );
        }
        let docs: Vec<Document> = self
            .coll(ALERTS)
            .find(filter)
            .sort(doc! { "fired_ns": -1, "_id": -1 })
            .limit(i64::try_from(q.limit).unwrap_or(i64::MAX))
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(from_doc).collect()
    }
}
