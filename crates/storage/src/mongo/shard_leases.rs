//! Shard leases on MongoDB: one document per shard (`_id` = shard). A claim first renews,
//! in one update, every live lease the owner holds among the shards asked for; for each
//! other shard it writes the next lease only while the stored document is still the one read
//! (filter on owner, epoch and expiry) — or, for a never-leased shard, by inserting
//! under the shard's `_id` — so of engines racing for a shard exactly one wins, on every
//! MongoDB-protocol server, without transactions.

use super::indexes::{ENGINES, SHARD_LEASES};
use super::{MongoRecords, is_duplicate_key, map_err};
use crate::ports::{Result, StoreError};
use crate::shard_leases::{EngineBeat, ShardLease, ShardLeaseView, ShardLeases, next_lease};
use async_trait::async_trait;
use cw_core::time::Nanos;
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

fn to_doc(lease: &ShardLease) -> Document {
    doc! {
        "_id": i32::from(lease.shard),
        "owner": &lease.owner,
        "epoch": lease.epoch as i64,
        "expires_ns": lease.expires_ns,
    }
}

fn from_doc(d: &Document) -> Result<ShardLease> {
    let bad = |e: mongodb::bson::document::ValueAccessError| {
        StoreError::Corrupt(format!("shard lease: {e}"))
    };
    let shard = d.get_i32("_id").map_err(bad)?;
    Ok(ShardLease {
        shard: u16::try_from(shard)
            .map_err(|_| StoreError::Corrupt(format!("shard lease: shard {shard}")))?,
        owner: d.get_str("owner").map_err(bad)?.to_owned(),
        epoch: d.get_i64("epoch").map_err(bad)? as u64,
        expires_ns: d.get_i64("expires_ns").map_err(bad)?,
    })
}

impl MongoRecords {
    async fn read_lease(&self, shard: u16) -> Result<Option<ShardLease>> {
        self.coll(SHARD_LEASES)
            .find_one(doc! { "_id": i32::from(shard) })
            .await
            .map_err(map_err)?
            .as_ref()
            .map(from_doc)
            .transpose()
    }
}

#[async_trait]
impl ShardLeases for MongoRecords {
    async fn claim_shards(
        &self,
        shards: &[u16],
        owner: &str,
        now: Nanos,
        ttl_ns: Nanos,
    ) -> Result<Vec<ShardLease>> {
        let expires_ns = now.saturating_add(ttl_ns);
        let ids: Vec<i32> = shards.iter().map(|s| i32::from(*s)).collect();
        // The steady state of a keeper round is renewing what it holds: one update for
        // all of them, and one read of the shards asked for, instead of a read and a
        // write per shard — 2 × 21 round trips per second for a third of the shards made
        // a loaded store miss the lease's lifetime (docs/chaos.md, "Found").
        self.coll(SHARD_LEASES)
            .update_many(
                doc! { "_id": { "$in": &ids }, "owner": owner, "expires_ns": { "$gt": now } },
                doc! { "$set": { "expires_ns": expires_ns } },
            )
            .await
            .map_err(map_err)?;
        let stored: Vec<Document> = self
            .coll(SHARD_LEASES)
            .find(doc! { "_id": { "$in": &ids } })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        let stored = stored
            .iter()
            .map(from_doc)
            .collect::<Result<Vec<ShardLease>>>()?;
        let mut held = Vec::new();
        for &shard in shards {
            let current = stored.iter().find(|l| l.shard == shard).cloned();
            if let Some(renewed) = current
                .as_ref()
                .filter(|l| l.owner == owner && l.expires_ns == expires_ns)
            {
                held.push(renewed.clone());
                continue;
            }
            let Some(next) = next_lease(current.as_ref(), shard, owner, now, ttl_ns) else {
                continue;
            };
            let won = match current {
                None => match self.coll(SHARD_LEASES).insert_one(to_doc(&next)).await {
                    Ok(_) => true,
                    Err(e) if is_duplicate_key(&e) => false,
                    Err(e) => return Err(map_err(e)),
                },
                Some(read) => {
                    let filter = doc! {
                        "_id": i32::from(shard),
                        "owner": &read.owner,
                        "epoch": read.epoch as i64,
                        "expires_ns": read.expires_ns,
                    };
                    let update = doc! { "$set": {
                        "owner": &next.owner,
                        "epoch": next.epoch as i64,
                        "expires_ns": next.expires_ns,
                    }};
                    self.coll(SHARD_LEASES)
                        .update_one(filter, update)
                        .await
                        .map_err(map_err)?
                        .matched_count
                        == 1
                }
            };
            if won {
                held.push(next);
            }
        }
        Ok(held)
    }

    async fn release_shard(&self, lease: &ShardLease) -> Result<()> {
        self.coll(SHARD_LEASES)
            .update_one(
                doc! {
                    "_id": i32::from(lease.shard),
                    "owner": &lease.owner,
                    "epoch": lease.epoch as i64,
                },
                doc! { "$set": { "expires_ns": 0_i64 } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn engine_heartbeat(&self, beat: &EngineBeat) -> Result<()> {
        self.coll(ENGINES)
            .replace_one(
                doc! { "_id": &beat.identity },
                doc! {
                    "_id": &beat.identity,
                    "expires_ns": beat.expires_ns,
                    "beat_ns": beat.beat_ns,
                    "pinned": beat.pinned,
                },
            )
            .upsert(true)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn live_engines(&self, now: Nanos) -> Result<Vec<String>> {
        let docs: Vec<Document> = self
            .coll(ENGINES)
            .find(doc! { "expires_ns": { "$gt": now }, "pinned": { "$ne": true } })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.iter()
            .map(|d| {
                d.get_str("_id")
                    .map(str::to_owned)
                    .map_err(|e| StoreError::Corrupt(format!("engine heartbeat: {e}")))
            })
            .collect()
    }
}

#[async_trait]
impl ShardLeaseView for MongoRecords {
    async fn shard_lease(&self, shard: u16) -> Result<Option<ShardLease>> {
        self.read_lease(shard).await
    }

    async fn shard_leases(&self) -> Result<Vec<ShardLease>> {
        let docs = self.all_docs_by_id(SHARD_LEASES).await?;
        docs.iter().map(from_doc).collect()
    }

    async fn engines(&self) -> Result<Vec<EngineBeat>> {
        let docs = self.all_docs_by_id(ENGINES).await?;
        docs.iter()
            .map(|d| {
                let bad = |e: mongodb::bson::document::ValueAccessError| {
                    StoreError::Corrupt(format!("engine heartbeat: {e}"))
                };
                Ok(EngineBeat {
                    identity: d.get_str("_id").map_err(bad)?.to_owned(),
                    expires_ns: d.get_i64("expires_ns").map_err(bad)?,
                    // Absent in a heartbeat stored before `GET /v1/shards`: not said.
                    beat_ns: d.get_i64("beat_ns").unwrap_or(0),
                    pinned: d.get_bool("pinned").unwrap_or(false),
                })
            })
            .collect()
    }
}
