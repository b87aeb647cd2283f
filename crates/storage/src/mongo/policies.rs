//! Threshold policies on MongoDB: one document per version, unique (patient, version),
//! so two saves racing for one version cannot both succeed — the loser takes the next.

use super::docs::{from_doc, to_doc};
use super::indexes::POLICIES;
use super::{MongoRecords, is_duplicate_key, map_err};
use crate::ports::{PolicyStore, Result, StoreError};
use async_trait::async_trait;
use cw_core::{PatientId, ThresholdPolicy};
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

/// Versions lost to concurrent saves before giving up.
const SAVE_ATTEMPTS: usize = 5;

#[async_trait]
impl PolicyStore for MongoRecords {
    async fn put_policy(&self, policy: &ThresholdPolicy) -> Result<ThresholdPolicy> {
        let mut policy = policy.clone();
        for _ in 0..SAVE_ATTEMPTS {
            policy.version = match self.policy(&policy.patient).await {
                Ok(current) => current.version + 1,
                Err(StoreError::NotFound) => 1,
                Err(e) => return Err(e),
            };
            let id = format!("{}:{}", policy.patient, policy.version);
            match self.coll(POLICIES).insert_one(to_doc(&id, &policy)?).await {
                Ok(_) => return Ok(policy),
                Err(e) if is_duplicate_key(&e) => continue,
                Err(e) => return Err(map_err(e)),
            }
        }
        Err(StoreError::Conflict(format!(
            "policy of {} changed concurrently {SAVE_ATTEMPTS} times",
            policy.patient
        )))
    }

    async fn policy(&self, patient: &PatientId) -> Result<ThresholdPolicy> {
        let found = self
            .coll(POLICIES)
            .find_one(doc! { "patient": patient.as_str() })
            .sort(doc! { "version": -1 })
            .await
            .map_err(map_err)?;
        from_doc(found.ok_or(StoreError::NotFound)?)
    }

    async fn policy_history(
        &self,
        patient: &PatientId,
        limit: usize,
    ) -> Result<Vec<ThresholdPolicy>> {
        // Served by the unique (patient, version desc) index.
        let docs: Vec<Document> = self
            .coll(POLICIES)
            .find(doc! { "patient": patient.as_str() })
            .sort(doc! { "version": -1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(from_doc).collect()
    }

    async fn all_policies(&self) -> Result<Vec<ThresholdPolicy>> {
        // Newest version per patient, computed by the server.
        let pipeline = vec![
            doc! { "$sort": { "patient": 1, "version": -1 } },
            doc! { "$group": { "_id": "$patient", "doc": { "$first": "$$ROOT" } } },
            doc! { "$replaceRoot": { "newRoot": "$doc" } },
            doc! { "$sort": { "patient": 1 } },
        ];
        let docs: Vec<Document> = self
            .coll(POLICIES)
            .aggregate(pipeline)
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(from_doc).collect()
    }
}
