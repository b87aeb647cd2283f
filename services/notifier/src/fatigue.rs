//! The alarm-fatigue report read from the store (`cardiowatch fatigue`); the figures are
//! computed by `cw_core::fatigue::summarize`, which the api serves too.

use cw_core::PatientId;
use cw_core::time::Nanos;
use cw_storage::{RecordStore, StoreError};

pub use cw_core::fatigue::{FatigueReport, FatigueRow, summarize};

/// Every real patient's alerts fired since `since_ns`, summarized (synthetic ones excluded).
pub async fn report(
    records: &dyn RecordStore,
    since_ns: Nanos,
) -> Result<FatigueReport, StoreError> {
    let patients: Vec<PatientId> = records
        .clinical_patients()
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let mut alerts = Vec::new();
    for chunk in patients.chunks(100) {
        let mut some = records.alerts_for_patients(chunk, None, 100_000).await?;
        some.retain(|a| a.fired_ns >= since_ns);
        alerts.extend(some);
    }
    Ok(summarize(&alerts))
}
