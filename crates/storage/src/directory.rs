//! The patient directory port: finding patients by the keyed hash of their MRN, and
//! walking all of them (key rotation re-wraps every record).

use crate::ports::Result;
use async_trait::async_trait;
use cw_core::Patient;

#[async_trait]
pub trait PatientDirectory: Send + Sync {
    /// The patient whose `mrn_hash` is this (the hash, never the MRN, is stored).
    async fn patient_by_mrn_hash(&self, mrn_hash: &str) -> Result<Patient>;
    /// Every patient, by id.
    async fn all_patients(&self) -> Result<Vec<Patient>>;
}
