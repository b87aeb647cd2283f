//! Digest for low priority: with `reliability.low_digest_s` set, low-priority alerts go
//! in-app at once, and email only as one digest per doctor per period, listing every
//! low alert that fired since the last one — a doctor's inbox is not one mail per alarm.
//!
//! Each alert in a digest gets its own outbox row (email, recipient, attempt group 0),
//! claimed before the mail is sent, so an alert is never in two digests. (A crash between
//! claim and send drops those alerts from email; they were delivered in-app already.)

use crate::dispatch::Dispatcher;
use crate::events::{DigestRowOutcome, ProviderCalled};
use crate::message;
use cw_core::time::now_ns;
use cw_core::{Alert, AlertState, Channel, Delivery, DeliveryStatus, Priority, UserId};
use cw_runtime::InternalEvent;
use cw_storage::StoreError;
use std::collections::BTreeMap;

/// The attempt group digest rows use (escalation levels start at 1).
pub const DIGEST_GROUP: u32 = 0;

impl Dispatcher {
    /// Sends the digests that are due: one email per doctor with pending low alerts.
    pub async fn send_digests(&self) -> Result<(), StoreError> {
        let Some(ses) = self.ses.as_ref() else {
            return Ok(());
        };
        let alerts = self.records.open_alerts().await?;
        let mut pending: BTreeMap<UserId, Vec<Alert>> = BTreeMap::new();
        for alert in alerts
            .into_iter()
            .filter(|a| a.state == AlertState::Firing && a.priority == Priority::Low)
        {
            let patient = self.records.patient(&alert.patient).await?;
            let Some(doctor) = patient.doctors.first() else {
                continue;
            };
            let rows = self.records.deliveries_for_alert(&alert.id).await?;
            let digested = rows.iter().any(|d| {
                d.attempt == DIGEST_GROUP && d.channel == Channel::Email && &d.recipient == doctor
            });
            if !digested {
                pending.entry(doctor.clone()).or_default().push(alert);
            }
        }
        for (doctor, alerts) in pending {
            let user = self.records.user(&doctor).await?;
            let Some(to) = user.email.as_deref() else {
                continue;
            };
            let mut rows = Vec::new();
            for alert in &alerts {
                let row = Delivery {
                    alert: alert.id.clone(),
                    channel: Channel::Email,
                    recipient: doctor.clone(),
                    attempt: DIGEST_GROUP,
                    status: DeliveryStatus::Queued,
                    provider_id: None,
                    sent_ns: None,
                    error: None,
                    updated_ns: now_ns(),
                    tries: 1,
                    next_try_ns: None,
                    version: 0,
                };
                match self.records.claim_delivery(&row).await {
                    Ok(()) => rows.push((row, alert)),
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if rows.is_empty() {
                continue;
            }
            let subject = format!("[cardiowatch LOW] digest: {} alert(s)", rows.len());
            let body = rows
                .iter()
                .map(|(_, a)| message::text_with_link(a, self.evidence.links.as_ref()))
                .collect::<Vec<_>>()
                .join("\n\n");
            let result = ses.send_email(to, &subject, &body, None).await;
            ProviderCalled.emit(&self.metrics);
            for (mut row, _) in rows {
                row.updated_ns = now_ns();
                match &result {
                    Ok(receipt) => {
                        row.status = DeliveryStatus::Sent;
                        row.provider_id = Some(receipt.provider_id.clone());
                        row.sent_ns = Some(row.updated_ns);
                    }
                    Err(e) => {
                        row.status = DeliveryStatus::Failed;
                        row.error = Some(e.to_string());
                    }
                }
                DigestRowOutcome {
                    sent: result.is_ok(),
                }
                .emit(&self.metrics);
                self.records.update_delivery(&row).await?;
            }
            tracing::info!(recipient = %doctor, ok = result.is_ok(), "low-priority digest");
        }
        Ok(())
    }
}
