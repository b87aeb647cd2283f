//! Watchdog probes on MongoDB: one document per synthetic patient (`_id`), replaced each
//! round; an answer is an update filtered on the round and on being unanswered, so a late
//! engine cannot answer a newer round with an older round's alert.

use super::indexes::WATCHDOG_PROBES;
use super::{MongoRecords, map_err};
use crate::ports::{Result, StoreError};
use crate::watchdog_probes::{ProbeAnswers, ProbeRequests, WatchdogProbe};
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{AlertId, PatientId};
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};

fn from_doc(d: &Document) -> Result<WatchdogProbe> {
    let bad = |what: String| StoreError::Corrupt(format!("watchdog probe: {what}"));
    let get = |e: mongodb::bson::document::ValueAccessError| bad(e.to_string());
    let patient = d.get_str("_id").map_err(get)?;
    let alert = match d.get("alert") {
        None | Some(Bson::Null) => None,
        Some(Bson::String(a)) => Some(AlertId::parse(a).map_err(|_| bad("alert id".into()))?),
        Some(other) => return Err(bad(format!("alert {other}"))),
    };
    Ok(WatchdogProbe {
        patient: PatientId::parse(patient).map_err(|_| bad("patient id".into()))?,
        requested_ns: d.get_i64("requested_ns").map_err(get)?,
        until_ns: d.get_i64("until_ns").map_err(get)?,
        alert,
    })
}

#[async_trait]
impl ProbeRequests for MongoRecords {
    async fn request_probe(
        &self,
        patient: &PatientId,
        requested_ns: Nanos,
        until_ns: Nanos,
    ) -> Result<()> {
        self.coll(WATCHDOG_PROBES)
            .replace_one(
                doc! { "_id": patient.as_str() },
                doc! {
                    "_id": patient.as_str(),
                    "requested_ns": requested_ns,
                    "until_ns": until_ns,
                    "alert": Bson::Null,
                },
            )
            .upsert(true)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn probe(&self, patient: &PatientId) -> Result<Option<WatchdogProbe>> {
        self.coll(WATCHDOG_PROBES)
            .find_one(doc! { "_id": patient.as_str() })
            .await
            .map_err(map_err)?
            .as_ref()
            .map(from_doc)
            .transpose()
    }
}

#[async_trait]
impl ProbeAnswers for MongoRecords {
    async fn pending_probes(&self, now: Nanos) -> Result<Vec<WatchdogProbe>> {
        let docs: Vec<Document> = self
            .coll(WATCHDOG_PROBES)
            .find(doc! { "alert": Bson::Null, "until_ns": { "$gt": now } })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.iter().map(from_doc).collect()
    }

    async fn answer_probe(
        &self,
        patient: &PatientId,
        requested_ns: Nanos,
        alert: &AlertId,
    ) -> Result<bool> {
        let updated = self
            .coll(WATCHDOG_PROBES)
            .update_one(
                doc! {
                    "_id": patient.as_str(),
                    "requested_ns": requested_ns,
                    "alert": Bson::Null,
                },
                doc! { "$set": { "alert": alert.as_str() } },
            )
            .await
            .map_err(map_err)?;
        Ok(updated.modified_count == 1)
    }
}
