//! Self-watchdog: on a schedule, a synthetic alert goes through the store and the outbox
//! exactly like a real one (the sweep picks it up and delivers it in-app to a synthetic
//! recipient). When its delivery is not recorded in time, ops are paged by SMS directly
//! through Twilio — the path that does not depend on the part that just failed.
//!
//! Each notifier has its own synthetic patient and sink (`cw-watchdog-{identity}`): the
//! store keeps one open alert per (patient, rule), so replicas sharing one patient
//! refused each other's synthetic alerts and paged ops falsely (docs/architecture.md).
//! Its prefix marks the patient synthetic (`PatientId::is_synthetic`), which keeps it out
//! of every clinical view and figure.

use crate::events::{WatchdogFailed, WatchdogPassed};
use crate::metrics::NotifierMetrics;
use crate::providers::twilio::TwilioClient;
use cw_core::ids::{InvalidId, SYNTHETIC_PATIENT_PREFIX};
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{
    Alert, Channel, DeliveryStatus, Patient, PatientId, Priority, Role, RuleKind, User, UserId,
};
use cw_runtime::InternalEvent;
use cw_storage::{NotifierRecords, StoreError};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const SINK_PREFIX: &str = "cw-watchdog-sink-";

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WatchdogConfig {
    /// Seconds between synthetic alerts. Default 300.
    #[serde(default = "default_interval")]
    pub interval_s: u64,
    /// How long the synthetic alert may take to be delivered. Default 30000.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Who is paged (by SMS) when it is not.
    pub ops_user: String,
    /// Names this notifier's synthetic patient (`cw-watchdog-{identity}`) and sink; up
    /// to 40 characters of `[A-Za-z0-9_-]`, unique per replica (e.g. a StatefulSet pod
    /// name). Default: a fresh random one per start (one small patient and user record
    /// per start).
    #[serde(default)]
    pub identity: Option<String>,
}

/// This notifier's synthetic patient and the sink user its alerts are paged to.
#[derive(Clone, Debug)]
pub struct Identity {
    pub patient: PatientId,
    pub sink: UserId,
}

impl Identity {
    /// From `identity`, or a random one.
    pub fn new(identity: Option<&str>) -> Result<Self, InvalidId> {
        let name = match identity {
            Some(name) if name.len() <= 40 => name.to_owned(),
            Some(_) => return Err(InvalidId),
            None => UserId::random().to_string(),
        };
        Ok(Self {
            patient: PatientId::parse(&format!("{SYNTHETIC_PATIENT_PREFIX}{name}"))?,
            sink: UserId::parse(&format!("{SINK_PREFIX}{name}"))?,
        })
    }
}

fn default_interval() -> u64 {
    300
}

fn default_timeout() -> u64 {
    30_000
}

/// Starts the rounds; fails (at start-up) only on an invalid `identity`.
pub fn spawn(
    cfg: WatchdogConfig,
    records: Arc<dyn NotifierRecords>,
    twilio: Option<TwilioClient>,
    metrics: Arc<NotifierMetrics>,
    shutdown: CancellationToken,
) -> Result<(), InvalidId> {
    let me = Identity::new(cfg.identity.as_deref())?;
    tracing::info!(patient = %me.patient, "watchdog: synthetic identity of this notifier");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(cfg.interval_s.max(1)));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match round(&cfg, &me, records.as_ref()).await {
                Ok(true) => WatchdogPassed.emit(&metrics),
                Ok(false) => {
                    WatchdogFailed { error: None }.emit(&metrics);
                    page_ops(&cfg, &me, records.as_ref(), twilio.as_ref()).await;
                }
                Err(e) => {
                    WatchdogFailed { error: Some(&e) }.emit(&metrics);
                    page_ops(&cfg, &me, records.as_ref(), twilio.as_ref()).await;
                }
            }
        }
    });
    Ok(())
}

/// One synthetic alert: fired, waited for, resolved. True when it came back delivered.
async fn round(
    cfg: &WatchdogConfig,
    me: &Identity,
    records: &dyn NotifierRecords,
) -> Result<bool, StoreError> {
    let Identity { patient, sink } = me.clone();
    // The sink has no phone or email: only the in-app channel can carry it, so the
    // watchdog never pages a person when things work.
    records
        .put_user(&User {
            id: sink.clone(),
            role: Role::Ops,
            phone: None,
            email: None,
            notify: Default::default(),
            disabled: None,
            sessions: Default::default(),
        })
        .await?;
    records
        .put_patient(&Patient {
            id: patient.clone(),
            doctors: vec![sink],
            devices: vec![],
            timezone: "UTC".into(),
            phi: None,
            mrn_hash: None,
        })
        .await?;
    let fired_ns = now_ns();
    let alert = Alert::firing(patient, RuleKind::HrHigh, Priority::Low, fired_ns);
    records.open_alert(&alert).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(cfg.timeout_ms);
    let came_back = loop {
        let rows = records.deliveries_for_alert(&alert.id).await?;
        if rows
            .iter()
            .any(|d| d.channel == Channel::InApp && d.status == DeliveryStatus::Delivered)
        {
            break true;
        }
        if tokio::time::Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    records.resolve_alert(&alert.id, now_ns()).await?;
    let took = (now_ns() - fired_ns) as f64 / NANOS_PER_SEC as f64;
    tracing::info!(came_back, seconds = took, "watchdog round");
    Ok(came_back)
}

async fn page_ops(
    cfg: &WatchdogConfig,
    me: &Identity,
    records: &dyn NotifierRecords,
    twilio: Option<&TwilioClient>,
) {
    tracing::error!(patient = %me.patient, "watchdog: a synthetic alert was not delivered in time; paging ops");
    let Some(twilio) = twilio else {
        tracing::error!("watchdog: no twilio configured to page ops");
        return;
    };
    let phone = match UserId::parse(&cfg.ops_user) {
        Ok(id) => records.user(&id).await.ok().and_then(|u| u.phone),
        Err(_) => None,
    };
    let Some(phone) = phone else {
        tracing::error!("watchdog: ops user has no phone");
        return;
    };
    // One page per failed round and notifier: the key names the round's minute and
    // the notifier's synthetic patient, which the text names for ops too.
    let key = format!(
        "watchdog:{}:{}",
        me.patient,
        now_ns() / (60 * NANOS_PER_SEC)
    );
    let text = format!(
        "cardiowatch watchdog {}: a synthetic alert was not delivered in time. Notifications may be failing.",
        me.patient
    );
    if let Err(e) = twilio.send_sms(&phone, &text, &key).await {
        tracing::error!(error = %e, "watchdog: paging ops failed");
    }
}
