//! The patient directory on MongoDB (index on `mrn_hash`, declared in `indexes`).

use super::docs::from_doc;
use super::indexes::PATIENTS;
use super::{MongoRecords, map_err};
use crate::directory::PatientDirectory;
use crate::ports::{Result, StoreError};
use async_trait::async_trait;
use cw_core::Patient;
use mongodb::bson::doc;

#[async_trait]
impl PatientDirectory for MongoRecords {
    async fn patient_by_mrn_hash(&self, mrn_hash: &str) -> Result<Patient> {
        let found = self
            .coll(PATIENTS)
            .find_one(doc! { "mrn_hash": mrn_hash })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(map_err)?;
        from_doc(found.ok_or(StoreError::NotFound)?)
    }

    async fn all_patients(&self) -> Result<Vec<Patient>> {
        self.all_by_id(PATIENTS).await
    }
}
