//! The "monitoring interrupted" technical alarm: a patient whose device streams while no
//! alert-engine holds the lease of the patient's shard (docs/architecture.md, "Shards").
//! Raised and cleared by ingest, which sees the samples arrive and needs no engine to be
//! alive; this narrow port is all of the alert store ingest may touch.

use crate::ports::{AlertStore, OpenAlertOutcome, Result};
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{Alert, AlertState, Episode, PatientId, Priority, RuleKind};

const RULE: RuleKind = RuleKind::MonitoringInterrupted;

#[async_trait]
pub trait MonitoringAlarms: Send + Sync {
    /// Opens the patient's alarm (high priority, technical; value: seconds without
    /// analysis since `since_ns`); an alarm already open is returned as it is.
    async fn raise_monitoring_interrupted(
        &self,
        patient: &PatientId,
        since_ns: Nanos,
        at: Nanos,
    ) -> Result<Alert>;

    /// Resolves the patient's open alarm, if there is one.
    async fn clear_monitoring_interrupted(
        &self,
        patient: &PatientId,
        at: Nanos,
    ) -> Result<Option<Alert>>;

    /// Patients whose alarm is open (a restarted ingest clears them when due).
    async fn monitoring_interrupted(&self) -> Result<Vec<PatientId>>;
}

#[async_trait]
impl<T: AlertStore + ?Sized> MonitoringAlarms for T {
    async fn raise_monitoring_interrupted(
        &self,
        patient: &PatientId,
        since_ns: Nanos,
        at: Nanos,
    ) -> Result<Alert> {
        let value = (at - since_ns).max(0) as f32 / 1e9;
        let alert = Alert {
            started_ns: since_ns,
            value,
            window_start_ns: since_ns,
            window_end_ns: at,
            episode: Episode::first(at, value),
            ..Alert::firing(patient.clone(), RULE, Priority::High, at)
        };
        match self.open_alert(&alert).await? {
            OpenAlertOutcome::Created => Ok(alert),
            OpenAlertOutcome::AlreadyOpen(open) => Ok(open),
        }
    }

    async fn clear_monitoring_interrupted(
        &self,
        patient: &PatientId,
        at: Nanos,
    ) -> Result<Option<Alert>> {
        for state in [AlertState::Firing, AlertState::Acknowledged] {
            let alerts = self
                .alerts_for_patients(std::slice::from_ref(patient), Some(state), 100)
                .await?;
            if let Some(open) = alerts.into_iter().find(|a| a.rule == RULE) {
                return self.resolve_alert(&open.id, at).await.map(Some);
            }
        }
        Ok(None)
    }

    async fn monitoring_interrupted(&self) -> Result<Vec<PatientId>> {
        Ok(self
            .open_alerts()
            .await?
            .into_iter()
            .filter(|a| a.rule == RULE)
            .map(|a| a.patient)
            .collect())
    }
}
