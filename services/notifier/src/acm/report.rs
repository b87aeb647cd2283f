//! Alarm state changes through the outbox to the alert managers. One delivery row per
//! (alert, `Channel::AlertManager`, manager, change): the change's
//! [`Change::sequence`](super::pcd04::Change::sequence) is the row's attempt, so its
//! idempotency key names exactly one message and the claim machinery of the pages
//! (claim before the send, compare-and-set after, orphan re-sent after `claim_lease_ms`)
//! holds for it too. A re-send carries the same MSH-10, so a manager that saw the first
//! copy can drop the second: like email, delivery is at-least-once in the window
//! between the manager's answer and the row's update (docs/architecture.md, notifier).
//!
//! Changes go in order per manager: a change waits while an earlier one of the same
//! alarm is not answered (in flight, retry pending), so the manager never sees an end
//! before its start.

use super::mllp::{Link, LinkError, Unsolicited};
use super::pcd04::{self, Change};
use super::pcd05::{AckCode, Reply};
use crate::backoff;
use crate::dispatch::Dispatcher;
use crate::events::{AlertManagerAnswered, DeliveryRetried, OrphanedClaimResent, ProviderCalled};
use cw_core::audit::{AuditEntry, AuditOutcome};
use cw_core::time::{Nanos, now_ns};
use cw_core::{Alert, AlertId, Channel, Delivery, DeliveryStatus};
use cw_runtime::InternalEvent;
use cw_storage::StoreError;

impl Dispatcher {
    /// Reports every change of `alert` not yet answered to every alert manager.
    /// `level` is how far the alert's escalation went (1 for one that is not firing).
    pub(crate) async fn report(&self, alert: &Alert, level: u32) -> Result<(), StoreError> {
        if self.alert_managers.is_empty() {
            return Ok(());
        }
        let rows = self.records.deliveries_for_alert(&alert.id).await?;
        let changes = pcd04::changes(alert, level);
        let reports = self
            .alert_managers
            .iter()
            .map(|link| self.report_to(link, alert, &changes, &rows));
        let done = futures::future::join_all(reports)
            .await
            .into_iter()
            .collect::<Result<Vec<bool>, _>>();
        // Watched until every manager answered its end.
        let finished = !alert.state.is_open() && done.as_ref().is_ok_and(|d| d.iter().all(|&x| x));
        let mut seen = self.lock_seen_open();
        if finished {
            seen.remove(&alert.id);
        } else {
            seen.insert(alert.id.clone());
        }
        done.map(|_| ())
    }

    async fn report_to(
        &self,
        link: &Link,
        alert: &Alert,
        changes: &[Change],
        rows: &[Delivery],
    ) -> Result<bool, StoreError> {
        let lease = self.reliability.claim_lease_ms as Nanos * 1_000_000;
        for &change in changes {
            let now = now_ns();
            let row = rows.iter().find(|d| {
                d.channel == Channel::AlertManager
                    && d.recipient == link.recipient
                    && d.attempt == change.sequence()
            });
            let mut delivery = match row {
                Some(d) => match d.status {
                    DeliveryStatus::Sent | DeliveryStatus::Delivered => continue,
                    // The manager refused its content (AE), or rejected it `max_rejects`
                    // times (AR): sending it again cannot help, and the later changes go.
                    DeliveryStatus::Failed if d.next_try_ns.is_none() => continue,
                    DeliveryStatus::Failed if d.next_try_ns.is_some_and(|at| at <= now) => {
                        d.clone()
                    }
                    DeliveryStatus::Queued if now - d.updated_ns >= lease => {
                        OrphanedClaimResent {
                            alert: &alert.id,
                            channel: Channel::AlertManager,
                        }
                        .emit(&self.metrics);
                        d.clone()
                    }
                    // Waiting for its retry or in flight elsewhere: later changes wait.
                    _ => return Ok(false),
                },
                None => Delivery::claim(
                    alert.id.clone(),
                    Channel::AlertManager,
                    link.recipient.clone(),
                    change.sequence(),
                    now,
                ),
            };
            let key = delivery.idempotency_key();
            let Some(_flight) = self.enter_flight(&key) else {
                return Ok(false);
            };
            if row.is_none() {
                match self
                    .records
                    .claim_deliveries(std::slice::from_ref(&delivery))
                    .await
                    .pop()
                {
                    Some(Ok(())) => {}
                    // Another notifier claimed it: it sends this change and the next.
                    Some(Err(StoreError::Conflict(_))) => return Ok(false),
                    Some(Err(e)) => return Err(e),
                    None => return Err(StoreError::Unavailable("claim without outcome".into())),
                }
            } else {
                // Written before the send, compare-and-set: of notifiers that read the
                // same due row, one sends it.
                delivery.status = DeliveryStatus::Queued;
                delivery.next_try_ns = None;
                delivery.updated_ns = now;
                match self
                    .outbox
                    .update(self.records.as_ref(), delivery.clone())
                    .await
                {
                    Ok(()) => delivery.version = delivery.version.wrapping_add(1),
                    Err(StoreError::Conflict(_)) => return Ok(false),
                    Err(e) => return Err(e),
                }
                DeliveryRetried.emit(&self.metrics);
            }
            let message = pcd04::oru_r40(&link.parties, alert, change, now_ns());
            let result = link.send(message, pcd04::control_id(alert, change)).await;
            if result.is_ok() && self.faults.abort_after_provider_accept {
                // Test hook: die between the manager's answer and our record of it.
                tracing::error!("fault injection: aborting after the alert manager answered");
                std::process::abort();
            }
            delivery.tries = delivery.tries.saturating_add(1);
            ProviderCalled.emit(&self.metrics);
            let now = now_ns();
            delivery.updated_ns = now;
            let retry = |tries| backoff::next_try(&self.reliability, &key, tries, now, Nanos::MAX);
            match &result {
                Ok(reply) => {
                    self.audit_reply(alert, &link.recipient, reply).await?;
                    delivery.provider_id = Some(receipt(reply));
                    match reply.code {
                        AckCode::Accept => {
                            delivery.status = DeliveryStatus::Delivered;
                            delivery.sent_ns = Some(now);
                            delivery.error = None;
                        }
                        AckCode::Error => {
                            delivery.status = DeliveryStatus::Failed;
                            delivery.error = Some(format!("alert manager error: {}", reply.text));
                            delivery.next_try_ns = None;
                        }
                        // A refusal of the manager's own may pass: retried, but only
                        // `max_rejects` sends in all, so a manager that always refuses
                        // cannot hold the alarm's later changes back for ever.
                        AckCode::Reject => {
                            delivery.status = DeliveryStatus::Failed;
                            delivery.error =
                                Some(format!("alert manager rejected: {}", reply.text));
                            delivery.next_try_ns = if delivery.tries >= link.max_rejects {
                                None
                            } else {
                                retry(delivery.tries)
                            };
                        }
                    }
                }
                Err(e) => {
                    delivery.status = DeliveryStatus::Failed;
                    delivery.error = Some(e.to_string());
                    delivery.next_try_ns = retry(delivery.tries);
                }
            }
            AlertManagerAnswered {
                code: result.as_ref().ok().map(|reply| reply.code),
            }
            .emit(&self.metrics);
            tracing::info!(alert = %alert.id, manager = %link.recipient, phase = change.phase(), status = delivery.status.as_str(), "alarm change reported to the alert manager");
            let delivered = settled(&delivery);
            self.record(delivery).await?;
            if !delivered || matches!(result, Err(LinkError::Down)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A PCD-05 (or any answer) is in the audit trail: who answered what, for which patient.
    async fn audit_reply(
        &self,
        alert: &Alert,
        manager: &cw_core::UserId,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at_ns: now_ns(),
            actor: manager.to_string(),
            role: String::new(),
            action: format!("alert_manager_{}", reply_kind(reply)),
            resource: format!("alerts/{}", alert.id),
            patient: Some(alert.patient.clone()),
            outcome: match reply.code {
                AckCode::Accept => AuditOutcome::Allowed,
                AckCode::Error | AckCode::Reject => AuditOutcome::Failed,
            },
            status: 0,
            source: "alert-manager".to_owned(),
            request_id: reply.control_id.clone(),
            reason: reply.text.clone(),
        };
        self.records.append_audit(&entry).await.map(|_| ())
    }

    /// A PCD-05 the manager sent later (a status after its first answer): recorded on
    /// the row its MSA-2 names and audited.
    pub(crate) async fn record_unsolicited(&self, status: Unsolicited) -> Result<(), StoreError> {
        let Some((alert, sequence)) = status.reply.control_id.rsplit_once('.') else {
            return Ok(());
        };
        let (Ok(alert), Some(change)) = (
            AlertId::parse(alert),
            sequence.parse().ok().and_then(Change::from_sequence),
        ) else {
            return Ok(());
        };
        let alert = self.records.get_alert(&alert).await?;
        self.audit_reply(&alert, &status.manager, &status.reply)
            .await?;
        let rows = self.records.deliveries_for_alert(&alert.id).await?;
        let Some(mut row) = rows.into_iter().find(|d| {
            d.channel == Channel::AlertManager
                && d.recipient == status.manager
                && d.attempt == change.sequence()
        }) else {
            return Ok(());
        };
        row.provider_id = Some(receipt(&status.reply));
        row.updated_ns = now_ns();
        self.record(row).await
    }

    /// Alarms that ended while no notifier ran (the watched set is in memory, so a
    /// restart forgets it): read from the store, those resolved within
    /// [`END_LOOKBACK_NS`] of which a manager was told something and has no answered
    /// end are watched again, so the sweep reports their end. An alarm that fired and
    /// ended entirely while no notifier ran is not reported, as it is paged to nobody.
    pub(crate) async fn watch_ended_while_down(&self) -> Result<(), StoreError> {
        if self.alert_managers.is_empty() {
            return Ok(());
        }
        let since = now_ns().saturating_sub(END_LOOKBACK_NS);
        let ended = self
            .records
            .alerts_resolved_since(since, END_LOOKBACK_LIMIT)
            .await?;
        let mut unreported = Vec::new();
        for alert in ended {
            let rows = self.records.deliveries_for_alert(&alert.id).await?;
            let told = rows.iter().any(|d| d.channel == Channel::AlertManager);
            let end_answered = |link: &Link| {
                rows.iter().any(|d| {
                    d.channel == Channel::AlertManager
                        && d.recipient == link.recipient
                        && d.attempt == Change::End.sequence()
                        && settled(d)
                })
            };
            if told && !self.alert_managers.iter().all(end_answered) {
                unreported.push(alert.id);
            }
        }
        if !unreported.is_empty() {
            tracing::info!(
                alarms = unreported.len(),
                "alarms that ended while no notifier ran: reporting their end"
            );
        }
        self.lock_seen_open().extend(unreported);
        Ok(())
    }

    /// Alerts reported before that are no longer among `open` and whose end is not
    /// answered yet: resolved since (their bus event may be lost).
    pub(crate) fn ended_since(&self, open: &[Alert]) -> Vec<AlertId> {
        if self.alert_managers.is_empty() {
            return Vec::new();
        }
        let seen = self.lock_seen_open();
        seen.iter()
            .filter(|id| !open.iter().any(|a| &a.id == *id))
            .cloned()
            .collect()
    }
}

/// How far back [`Dispatcher::watch_ended_while_down`] looks: a notifier outage longer
/// than a day leaves the ends before it unreported (docs/integration.md).
pub(crate) const END_LOOKBACK_NS: Nanos = 24 * 3_600 * 1_000_000_000;
/// Ends read back at most at one start.
const END_LOOKBACK_LIMIT: usize = 10_000;

/// A row the reporter will not send again: answered, or given up.
fn settled(d: &Delivery) -> bool {
    match d.status {
        DeliveryStatus::Sent | DeliveryStatus::Delivered => true,
        DeliveryStatus::Failed => d.next_try_ns.is_none(),
        DeliveryStatus::Queued => false,
    }
}

fn reply_kind(reply: &Reply) -> &'static str {
    if reply.message_type.starts_with("ORA") {
        "pcd05"
    } else {
        "ack"
    }
}

/// What a row keeps of the answer: its type, MSA-1 and MSA-2, and a PCD-05's status.
fn receipt(reply: &Reply) -> String {
    let code = match reply.code {
        AckCode::Accept => "accept",
        AckCode::Error => "error",
        AckCode::Reject => "reject",
    };
    let mut text = format!("{} {code} {}", reply.message_type, reply.control_id);
    if let Some(status) = &reply.status {
        text.push_str(&format!(" status={status}"));
    }
    text
}
