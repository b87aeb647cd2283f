//! The patient directory port: finding patients by the keyed hash of their MRN, and
//! walking all of them (key rotation re-wraps every record).

use crate::ports::Result;
use async_trait::async_trait;
use cw_core::Patient;

#[async_trait]
pub trait PatientDirectory: Send + Sync {
    /// The patient whose `mrn_hash` is this (the hash, never the MRN, is stored).
    async fn patient_by_mrn_hash(&self, mrn_hash: &str) -> Result<Patient>;
    /// Every patient, by id, synthetic ones included.
    async fn all_patients(&self) -> Result<Vec<Patient>>;
    /// Every real patient, by id: the set clinical views and figures start from. The
    /// notifier watchdog's synthetic patients (`PatientId::is_synthetic`) fire an alert
    /// every round and would skew alarm counts and ack rates (docs/architecture.md).
    async fn clinical_patients(&self) -> Result<Vec<Patient>> {
        let mut all = self.all_patients().await?;
        all.retain(|p| !p.id.is_synthetic());
        Ok(all)
    }
}
