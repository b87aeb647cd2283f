//! Self-watchdog: on a schedule, a synthetic alert goes through an alert-engine, the store
//! and the outbox exactly like a real one. The notifier asks for a round (a probe in the
//! store); the engine holding the synthetic patient's shard lease opens the round's alert
//! through its fenced writer and pushes it; the sweep delivers it in-app to a synthetic
//! recipient. When no engine opens it, or its delivery is not recorded, in time, ops are
//! paged by SMS directly through Twilio — the path that does not depend on the part that
//! just failed. So a dead engine, a shard nobody holds, a broken engine → store or
//! engine → notifier path and a broken outbox each fail the round
//! (docs/architecture.md, "The watchdog's probe").
//!
//! Each notifier has its own synthetic patient and sink (`cw-watchdog-{identity}`): the
//! store keeps one open alert per (patient, rule), so replicas sharing one patient
//! refused each other's synthetic alerts and paged ops falsely (docs/architecture.md).
//! Its prefix marks the patient synthetic (`PatientId::is_synthetic`), which keeps it out
//! of every clinical view and figure. The default identity is stable per replica (host
//! name and admin port), so restarts do not add synthetic patients (docs/operations.md,
//! "The watchdog").

use crate::events::{WatchdogFailed, WatchdogPassed};
use crate::metrics::NotifierMetrics;
use crate::providers::twilio::TwilioClient;
use cw_core::ids::{InvalidId, SYNTHETIC_PATIENT_PREFIX};
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{Channel, DeliveryStatus, Patient, PatientId, Role, User, UserId};
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
    /// name). Default: this host's name and the admin listener's port (`{host}-{port}`,
    /// hashed down when longer), the same on every restart of one replica and different
    /// between replicas on one host, so restarts add no synthetic records; a random one
    /// only when the host has no name.
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
    /// From `identity`, else from this host's name and the admin port
    /// ([`default_name`]).
    pub fn new(identity: Option<&str>, admin_port: u16) -> Result<Self, InvalidId> {
        let name = match identity {
            Some(name) if name.len() <= 40 => name.to_owned(),
            Some(_) => return Err(InvalidId),
            None => default_name(host_name().as_deref(), admin_port),
        };
        Ok(Self {
            patient: PatientId::parse(&format!("{SYNTHETIC_PATIENT_PREFIX}{name}"))?,
            sink: UserId::parse(&format!("{SINK_PREFIX}{name}"))?,
        })
    }
}

/// The kernel's host name: a pod's name under Kubernetes, a container's under Docker.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

/// `{host}-{admin port}` in the id alphabet (anything else becomes `-`); over 40
/// characters, its first 31 and 8 hex digits of a hash of the whole, so two long names
/// that share a beginning still differ. No host name: a random one.
fn default_name(host: Option<&str>, admin_port: u16) -> String {
    let Some(host) = host else {
        return UserId::random().to_string();
    };
    let name: String = format!("{host}-{admin_port}")
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '-',
        })
        .collect();
    if name.len() <= 40 {
        return name;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{}-{:08x}", &name[..31], hash as u32)
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
    admin_port: u16,
    records: Arc<dyn NotifierRecords>,
    twilio: Option<TwilioClient>,
    metrics: Arc<NotifierMetrics>,
    shutdown: CancellationToken,
) -> Result<(), InvalidId> {
    let me = Identity::new(cfg.identity.as_deref(), admin_port)?;
    tracing::info!(patient = %me.patient, "watchdog: synthetic identity of this notifier");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(cfg.interval_s.max(1)));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match round(&cfg, &me, records.as_ref()).await {
                Ok(Outcome::CameBack) => WatchdogPassed.emit(&metrics),
                Ok(lost) => {
                    WatchdogFailed { error: None }.emit(&metrics);
                    page_ops(&cfg, &me, lost, records.as_ref(), twilio.as_ref()).await;
                }
                Err(e) => {
                    WatchdogFailed { error: Some(&e) }.emit(&metrics);
                    page_ops(
                        &cfg,
                        &me,
                        Outcome::StoreFailed,
                        records.as_ref(),
                        twilio.as_ref(),
                    )
                    .await;
                }
            }
        }
    });
    Ok(())
}

/// How a round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Opened by an engine and delivered in time.
    CameBack,
    /// No engine opened the round's alert in time: none running, none holding the
    /// synthetic patient's shard, or its store writes failing.
    NotOpened,
    /// Opened, but its in-app delivery was not recorded in time: the engine → notifier
    /// bus or the outbox failed.
    NotDelivered,
    /// The store did not answer the notifier.
    StoreFailed,
}

impl Outcome {
    /// What ops read in the page and the log.
    fn says(self) -> &'static str {
        match self {
            Outcome::CameBack => "came back",
            Outcome::NotOpened => {
                "no alert-engine opened the synthetic alert in time; patients may be unmonitored"
            }
            Outcome::NotDelivered => {
                "the synthetic alert was not delivered in time; notifications may be failing"
            }
            Outcome::StoreFailed => {
                "the record store did not answer; alerts may be neither stored nor delivered"
            }
        }
    }
}

/// One round: asked of the engines, its alert waited for until delivered, then resolved.
async fn round(
    cfg: &WatchdogConfig,
    me: &Identity,
    records: &dyn NotifierRecords,
) -> Result<Outcome, StoreError> {
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
    let requested_ns = now_ns();
    let wait_ns = i64::try_from(cfg.timeout_ms)
        .unwrap_or(i64::MAX / NANOS_PER_SEC)
        .saturating_mul(1_000_000);
    records
        .request_probe(&patient, requested_ns, requested_ns.saturating_add(wait_ns))
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(cfg.timeout_ms);
    let outcome = loop {
        let answer = records
            .probe(&patient)
            .await?
            .filter(|p| p.requested_ns == requested_ns)
            .and_then(|p| p.alert);
        let delivered = match &answer {
            Some(alert) => records
                .deliveries_for_alert(alert)
                .await?
                .iter()
                .any(|d| d.channel == Channel::InApp && d.status == DeliveryStatus::Delivered),
            None => false,
        };
        if delivered {
            break Outcome::CameBack;
        }
        if tokio::time::Instant::now() >= deadline {
            break match answer {
                Some(_) => Outcome::NotDelivered,
                None => Outcome::NotOpened,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The engine may answer just after the deadline; a round's alert left open would be
    // answered again (the one open alert per key) by the next round, which resolves it.
    if let Some(alert) = records
        .probe(&patient)
        .await?
        .filter(|p| p.requested_ns == requested_ns)
        .and_then(|p| p.alert)
    {
        records.resolve_alert(&alert, now_ns()).await?;
    }
    let took = (now_ns() - requested_ns) as f64 / NANOS_PER_SEC as f64;
    tracing::info!(
        came_back = outcome == Outcome::CameBack,
        seconds = took,
        outcome = outcome.says(),
        "watchdog round"
    );
    Ok(outcome)
}

async fn page_ops(
    cfg: &WatchdogConfig,
    me: &Identity,
    lost: Outcome,
    records: &dyn NotifierRecords,
    twilio: Option<&TwilioClient>,
) {
    tracing::error!(patient = %me.patient, failure = lost.says(), "watchdog: round failed; paging ops");
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
    let text = format!("cardiowatch watchdog {}: {}.", me.patient, lost.says());
    if let Err(e) = twilio.send_sms(&phone, &text, &key).await {
        tracing::error!(error = %e, "watchdog: paging ops failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_identity_is_the_host_and_port_stable_and_apart_per_replica() {
        let a = Identity::new(None, 9103).expect("identity");
        let again = Identity::new(None, 9103).expect("identity");
        let other = Identity::new(None, 9104).expect("identity");
        assert_eq!(a.patient, again.patient, "a restart keeps its patient");
        assert_ne!(a.patient, other.patient, "two replicas on one host differ");
        assert!(a.patient.is_synthetic());
    }

    #[test]
    fn a_host_name_is_put_in_the_id_alphabet_and_a_long_one_hashed_down() {
        assert_eq!(
            default_name(Some("notifier-0.cw.svc"), 9103),
            "notifier-0-cw-svc-9103"
        );
        let long = "n".repeat(60);
        let (x, y) = (
            default_name(Some(&format!("{long}a")), 9103),
            default_name(Some(&format!("{long}b")), 9103),
        );
        assert_eq!((x.len(), y.len()), (40, 40));
        assert_ne!(x, y, "long names that share a beginning still differ");
        assert!(PatientId::parse(&format!("{SYNTHETIC_PATIENT_PREFIX}{x}")).is_ok());
        assert_eq!(default_name(Some(&format!("{long}a")), 9103), x, "stable");
    }
}
