//! Seen provider request ids on MongoDB: the id is the `_id`, so its uniqueness (on
//! every MongoDB-protocol server) decides first use between replicas.

use super::{MongoRecords, is_duplicate_key, map_err};
use crate::ports::Result;
use crate::replay_guard::ReplayGuard;
use async_trait::async_trait;
use cw_core::time::Nanos;
use mongodb::bson::doc;

const SEEN_REQUESTS: &str = "seen_requests";

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
}
