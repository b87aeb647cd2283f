//! Patients, users and devices on MongoDB, each keyed by its id as `_id`.

use super::docs::{from_doc, to_doc};
use super::indexes::{DEVICES, PATIENTS, USERS};
use super::{MongoRecords, map_err};
use crate::ports::{DeviceStore, PatientStore, Result, StoreError};
use async_trait::async_trait;
use cw_core::{Device, DeviceId, Patient, PatientId, User, UserId};
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[async_trait]
impl PatientStore for MongoRecords {
    async fn put_patient(&self, patient: &Patient) -> Result<()> {
        self.upsert(PATIENTS, patient.id.as_str(), patient).await
    }

    async fn patient(&self, id: &PatientId) -> Result<Patient> {
        self.one(PATIENTS, doc! { "_id": id.as_str() }).await
    }

    async fn patients_of(&self, doctor: &UserId) -> Result<Vec<Patient>> {
        // Matches array elements: the patients whose `doctors` contain this user.
        let docs: Vec<Document> = self
            .coll(PATIENTS)
            .find(doc! { "doctors": doctor.as_str() })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter().map(from_doc).collect()
    }

    async fn put_user(&self, user: &User) -> Result<()> {
        self.upsert(USERS, user.id.as_str(), user).await
    }

    async fn user(&self, id: &UserId) -> Result<User> {
        self.one(USERS, doc! { "_id": id.as_str() }).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.all_by_id(USERS).await
    }
}

#[async_trait]
impl DeviceStore for MongoRecords {
    async fn put_device(&self, device: &Device) -> Result<()> {
        self.upsert(DEVICES, device.id.as_str(), device).await
    }

    async fn register_device(&self, device: &Device) -> Result<()> {
        if self.transactions {
            return self.register_device_tx(device).await;
        }
        // Without a transaction: listed on the patient first, stored second. A crash in
        // between leaves an id on the patient that names no device — inert: no token or
        // certificate of it exists, and its token was never handed out. The other order
        // could leave a working device its patient does not list.
        let listed = self
            .coll(PATIENTS)
            .update_one(
                doc! { "_id": device.patient.as_str() },
                doc! { "$addToSet": { "devices": device.id.as_str() } },
            )
            .await
            .map_err(map_err)?;
        if listed.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        self.interrupt.fire()?;
        self.upsert(DEVICES, device.id.as_str(), device).await
    }

    async fn device(&self, id: &DeviceId) -> Result<Device> {
        self.one(DEVICES, doc! { "_id": id.as_str() }).await
    }

    async fn device_by_token_hash(&self, token_sha256: &str) -> Result<Device> {
        self.one(DEVICES, doc! { "token_sha256": token_sha256 })
            .await
    }

    async fn device_by_cert_sha256(&self, cert_sha256: &str) -> Result<Device> {
        self.one(DEVICES, doc! { "cert_sha256": cert_sha256 }).await
    }

    async fn list_devices(&self) -> Result<Vec<Device>> {
        self.all_by_id(DEVICES).await
    }
}

impl MongoRecords {
    /// Inserts or replaces the whole document.
    async fn upsert<T: Serialize + Sync>(
        &self,
        collection: &str,
        id: &str,
        value: &T,
    ) -> Result<()> {
        self.coll(collection)
            .replace_one(doc! { "_id": id }, to_doc(id, value)?)
            .upsert(true)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Every document of `collection`, in id order.
    pub(super) async fn all_by_id<T: DeserializeOwned>(&self, collection: &str) -> Result<Vec<T>> {
        let docs = self.all_docs_by_id(collection).await?;
        docs.into_iter().map(from_doc).collect()
    }

    /// Every raw document of `collection`, in id order (for collections decoded by hand).
    pub(super) async fn all_docs_by_id(&self, collection: &str) -> Result<Vec<Document>> {
        self.coll(collection)
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)
    }

    async fn one<T: DeserializeOwned>(&self, collection: &str, filter: Document) -> Result<T> {
        let found = self
            .coll(collection)
            .find_one(filter)
            .sort(doc! { "_id": 1 })
            .await
            .map_err(map_err)?;
        from_doc(found.ok_or(StoreError::NotFound)?)
    }
}
