//! Seen provider request ids on MongoDB: the id is the `_id`, so its uniqueness (on
//! every MongoDB-protocol server) decides first use between replicas.

use super::indexes::SEEN_REQUESTS;
use super::{MongoRecords, is_duplicate_key, map_err};
use crate::ports::Result;
use crate::replay_guard::ReplayGuard;
use async_trait::async_trait;
use cw_core::time::Nanos;
use mongodb::bson::doc;

#[async_trait]
impl ReplayGuard for MongoRecords {
    async fn first_use(&self, request_id: &str, at: Nanos) -> Result<bool> {
        match self
            .coll(SEEN_REQUESTS)
            .insert_one(doc! { "_id": request_id, "at_ns": at })
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn forget_used_before(&self, before: Nanos) -> Result<u64> {
        let deleted = self
            .coll(SEEN_REQUESTS)
            .delete_many(doc! { "at_ns": { "$lt": before } })
            .await
            .map_err(map_err)?;
        Ok(deleted.deleted_count)
    }
}
