//! The outbox state machine: drives one firing alert towards its recipients.
//!
//! Per (alert, channel, recipient, attempt group) there is one row, keyed by that
//! idempotency key:
//!
//! ```text
//!  (none) ──claim──▶ queued ──provider ok──▶ sent ──callback──▶ delivered
//!                      │  ▲                    └──callback──▶ failed (gave up)
//!                      │  └──retry due / lease expired (same key)──┐
//!                      └──provider error──▶ failed (next_try_ns set) ┘ or (None: gave up)
//! ```
//!
//! The row is written *before* every provider call (claim, or `queued` again for a
//! retry), so a notifier killed between "the provider accepted" and "we recorded it"
//! leaves a `queued` row. Once its lease has passed, a sweep sends it again **with the
//! same idempotency key**: Twilio answers with the message it already has instead of
//! sending another (SES has no such key, so email is at-least-once in that window).
//!
//! Every change after the claim is a compare-and-set on the row's version
//! (`DeliveryStore::update_delivery`): of any number of notifiers that read the same due
//! retry or orphaned claim, exactly one moves it to `queued` and calls the provider; the
//! others get `Conflict` and leave it.

use crate::backoff;
use crate::breaker::Breaker;
use crate::config::{Faults, Reliability, Routing};
use crate::events::{
    BreakerRejected, ChannelSkipped, DeliveryFailed, DeliveryRetried, DeliverySent,
    DuplicateSkipped, Escalated, Fallback, NoActiveDoctor, OrphanedClaimResent, OutcomeSuperseded,
    ProviderCalled, RateLimited, Unreachable,
};
use crate::evidence::Evidence;
use crate::message;
use crate::metrics::NotifierMetrics;
use crate::outbox_commit::OutboxCommit;
use crate::plan::{self, Target};
use crate::providers::mime::{InlinePng, Threading};
use crate::providers::ses::SesClient;
use crate::providers::twilio::{TwilioClient, alert_call_twiml};
use crate::providers::{ProviderError, ProviderReceipt};
use crate::rate_limit::RateLimiter;
use crate::webhooks::CallbackUrls;
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_core::{Alert, AlertState, Channel, Delivery, DeliveryStatus, User, UserId};
use cw_runtime::InternalEvent;
use cw_storage::{NotifierRecords, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The file name (and `Content-ID`) of the strip image in an email page.
const STRIP_NAME: &str = "ecg-strip.png";

pub struct Dispatcher {
    pub records: Arc<dyn NotifierRecords>,
    pub routing: Routing,
    pub reliability: Reliability,
    pub faults: Faults,
    pub twilio: Option<TwilioClient>,
    pub ses: Option<SesClient>,
    pub callbacks: Option<CallbackUrls>,
    /// The console link pages carry and the strip image of email pages.
    pub evidence: Evidence,
    pub metrics: Arc<NotifierMetrics>,
    pub twilio_breaker: Breaker,
    pub ses_breaker: Breaker,
    /// Keys with a provider call in flight in this process, so a sweep never races the
    /// event path on the same row.
    in_flight: Mutex<HashSet<String>>,
    rate_limiter: RateLimiter,
    /// Outcomes of concurrent pages share one commit.
    pub(crate) outbox: OutboxCommit,
    /// Hospital alert managers every alarm state change is reported to (`acm/`).
    pub(crate) alert_managers: Vec<crate::acm::mllp::Link>,
    /// Alerts the reporter saw open, so an end is reported when the bus event is lost.
    seen_open: Mutex<HashSet<cw_core::AlertId>>,
}

/// A row's place in `in_flight`, released however `execute` ends.
pub(crate) struct Flight<'a> {
    set: &'a Mutex<HashSet<String>>,
    key: String,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// What to do with one target's row.
enum Action {
    Claim(Delivery),
    Retry(Delivery),
}

impl Action {
    fn key(&self) -> String {
        match self {
            Action::Claim(d) | Action::Retry(d) => d.idempotency_key(),
        }
    }
}

impl Dispatcher {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        records: Arc<dyn NotifierRecords>,
        routing: Routing,
        reliability: Reliability,
        faults: Faults,
        twilio: Option<TwilioClient>,
        ses: Option<SesClient>,
        callbacks: Option<CallbackUrls>,
        evidence: Evidence,
        metrics: Arc<NotifierMetrics>,
    ) -> Self {
        let reliability_for_breaker = reliability.clone();
        let breaker = || {
            Breaker::new(
                reliability_for_breaker.breaker_failures,
                Duration::from_millis(reliability_for_breaker.breaker_open_ms),
            )
        };
        let rate_limiter =
            RateLimiter::new(reliability.rate_limit_per_hour, Duration::from_secs(3_600));
        Self {
            twilio_breaker: breaker(),
            ses_breaker: breaker(),
            records,
            routing,
            reliability,
            faults,
            twilio,
            ses,
            callbacks,
            evidence,
            metrics,
            in_flight: Mutex::new(HashSet::new()),
            rate_limiter,
            outbox: OutboxCommit::default(),
            alert_managers: Vec::new(),
            seen_open: Mutex::new(HashSet::new()),
        }
    }

    /// Reports alarm state changes to these alert managers too.
    pub fn with_alert_managers(mut self, links: Vec<crate::acm::mllp::Link>) -> Self {
        self.alert_managers = links;
        self
    }

    pub(crate) fn lock_seen_open(&self) -> std::sync::MutexGuard<'_, HashSet<cw_core::AlertId>> {
        self.seen_open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The patient's doctors in escalation order without disabled accounts and without
    /// ids that have no user record (no contact points: nothing could reach them), and
    /// their users. Such a doctor is skipped rather than paged: waiting a whole ack
    /// deadline for someone who cannot answer would delay the next doctor.
    async fn active_chain(
        &self,
        doctors: &[UserId],
    ) -> Result<(Vec<UserId>, HashMap<UserId, User>), StoreError> {
        let mut chain = Vec::with_capacity(doctors.len());
        let mut users: HashMap<UserId, User> = HashMap::new();
        for id in doctors {
            if !users.contains_key(id) {
                match self.records.user(id).await {
                    Ok(user) => {
                        users.insert(id.clone(), user);
                    }
                    Err(StoreError::NotFound) => {
                        tracing::warn!(user = %id, "assigned doctor has no user record; skipped in the escalation chain");
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            if users.get(id).is_some_and(|u| !u.is_disabled()) {
                chain.push(id.clone());
            }
        }
        Ok((chain, users))
    }

    /// Brings one alert's outbox up to date: new pages (first page, escalation,
    /// failover), due retries, and re-sends of claims orphaned by a crash. Idempotent:
    /// the event path and every sweep may call it for the same alert.
    pub async fn drive(&self, alert: &Alert) -> Result<(), StoreError> {
        // The store is the truth: an alert acknowledged by REST, SMS or key press, or
        // resolved, is not paged any further.
        let alert = self.records.get_alert(&alert.id).await?;
        if alert.state != AlertState::Firing {
            // Its acknowledgement and end still go to the alert managers.
            return self.report(&alert, 1).await;
        }
        let patient = self.records.patient(&alert.patient).await?;
        let (mut chain, mut users) = self.active_chain(&patient.doctors).await?;
        if chain.is_empty() {
            let fallback = self.active_chain(&self.routing.fallback).await;
            NoActiveDoctor {
                alert: &alert.id,
                patient: &alert.patient,
                fallback: match &fallback {
                    Ok((chain, _)) if chain.is_empty() => Fallback::Nobody,
                    Ok(_) => Fallback::Paged,
                    Err(_) => Fallback::Unread,
                },
            }
            .emit(&self.metrics);
            (chain, users) = fallback?;
            if chain.is_empty() {
                return self.report(&alert, 1).await;
            }
        }
        let now = now_ns();
        let rows = self.records.deliveries_for_alert(&alert.id).await?;
        let level = plan::escalation_level(&self.reliability, &alert, chain.len(), now);
        let provider_down = |ch: Channel| self.breaker(ch).is_some_and(Breaker::is_open);
        let situation = plan::Situation {
            routing: &self.routing,
            alert: &alert,
            chain: &chain,
            users: &users,
            level,
            rows: &rows,
            now,
            max_snooze_ns: self.reliability.max_snooze_s as Nanos * NANOS_PER_SEC,
        };
        let targets = plan::targets(&situation, provider_down);
        let digest_low_email =
            self.reliability.low_digest_s > 0 && alert.priority == cw_core::Priority::Low;
        let mut actions = Vec::new();
        for target in targets {
            if digest_low_email && target.channel == Channel::Email {
                continue;
            }
            let Some(user) = users.get(&target.recipient) else {
                continue;
            };
            if let Some(why) = self.unreachable(target.channel, user) {
                ChannelSkipped {
                    alert: &alert.id,
                    recipient: &target.recipient,
                    channel: target.channel,
                    why,
                }
                .emit(&self.metrics);
                continue;
            }
            let Some(action) = self.action_for(&alert, &target, &rows, now) else {
                continue;
            };
            // A new page on a provider channel counts against the recipient's rate
            // limit (never for high priority); over it, the in-app row still carries it.
            if matches!(action, Action::Claim(_))
                && alert.priority != cw_core::Priority::High
                && target.channel != Channel::InApp
                && !self.rate_limiter.allow(&target.recipient)
            {
                RateLimited.emit(&self.metrics);
                if let Some(in_app) = self.action_for(
                    &alert,
                    &Target {
                        channel: Channel::InApp,
                        ..target.clone()
                    },
                    &rows,
                    now,
                ) && !actions
                    .iter()
                    .any(|(a, _): &(Action, User)| a.key() == in_app.key())
                {
                    actions.push((in_app, user.clone()));
                }
                continue;
            }
            if !actions.iter().any(|(a, _)| a.key() == action.key()) {
                actions.push((action, user.clone()));
            }
        }
        // One provider call per row at a time in this process, held until the outcome is
        // recorded: the event path and the sweep may both decide to act on the same row.
        let flights: Vec<_> = actions
            .into_iter()
            .filter_map(|(action, user)| {
                let flight = self.enter_flight(&action.key())?;
                Some((flight, action, user))
            })
            .collect();
        let claimed = self.claim_all(&flights).await;
        let mut claimed = claimed.into_iter();
        let mut ready = Vec::with_capacity(flights.len());
        let mut failed = Ok(());
        for (flight, action, user) in flights {
            if let Action::Claim(_) = action {
                match claimed.next() {
                    Some(Ok(())) => {}
                    Some(Err(StoreError::Conflict(_))) => {
                        DuplicateSkipped.emit(&self.metrics);
                        continue;
                    }
                    Some(Err(e)) => {
                        failed = Err(e);
                        continue;
                    }
                    None => {
                        failed = Err(StoreError::Unavailable("claim without outcome".into()));
                        continue;
                    }
                }
            }
            ready.push((flight, action, user));
        }
        // High priority goes to every channel at once: the calls run concurrently, and
        // beside them the report to the alert managers.
        let (results, reported) = futures::join!(
            futures::future::join_all(
                ready
                    .into_iter()
                    .map(|(flight, action, user)| self.execute(&alert, flight, action, user)),
            ),
            self.report(&alert, level)
        );
        results
            .into_iter()
            .collect::<Result<(), _>>()
            .and(failed)
            .and(reported)
    }

    /// Records every new claim of one drive in one batch before any provider call (one
    /// commit on the embedded store instead of one per channel queued ahead of the SMS).
    /// One outcome per `Action::Claim`, in order.
    async fn claim_all(
        &self,
        flights: &[(Flight<'_>, Action, User)],
    ) -> Vec<Result<(), StoreError>> {
        let claims: Vec<Delivery> = flights
            .iter()
            .filter_map(|(_, action, _)| match action {
                Action::Claim(d) => Some(d.clone()),
                Action::Retry(_) => None,
            })
            .collect();
        if claims.is_empty() {
            return Vec::new();
        }
        let outcomes = self.records.claim_deliveries(&claims).await;
        for (claim, outcome) in claims.iter().zip(&outcomes) {
            if outcome.is_ok() && claim.attempt >= 2 {
                Escalated.emit(&self.metrics);
            }
        }
        outcomes
    }

    fn action_for(
        &self,
        alert: &Alert,
        t: &Target,
        rows: &[Delivery],
        now: Nanos,
    ) -> Option<Action> {
        let row = rows
            .iter()
            .find(|d| d.attempt == t.level && d.channel == t.channel && d.recipient == t.recipient);
        let Some(row) = row else {
            return Some(Action::Claim(Delivery::claim(
                alert.id.clone(),
                t.channel,
                t.recipient.clone(),
                t.level,
                now,
            )));
        };
        if self.is_in_flight(&row.idempotency_key()) {
            return None;
        }
        // A due row waits for its provider's circuit to close, spending nothing: the
        // first sweep after it closes sends it (within the alert's deadline).
        if self.breaker(t.channel).is_some_and(Breaker::is_open) {
            return None;
        }
        let lease = self.reliability.claim_lease_ms as Nanos * 1_000_000;
        match row.status {
            DeliveryStatus::Queued if now - row.updated_ns >= lease => {
                OrphanedClaimResent {
                    alert: &alert.id,
                    channel: t.channel,
                }
                .emit(&self.metrics);
                Some(Action::Retry(row.clone()))
            }
            DeliveryStatus::Failed if row.next_try_ns.is_some_and(|at| at <= now) => {
                Some(Action::Retry(row.clone()))
            }
            _ => None,
        }
    }

    /// Sends one row and records the outcome. An `Action::Claim` arrives already
    /// claimed (`claim_all`); `_flight` holds the row until the outcome is recorded.
    async fn execute(
        &self,
        alert: &Alert,
        _flight: Flight<'_>,
        action: Action,
        user: User,
    ) -> Result<(), StoreError> {
        let key = action.key();
        let mut delivery = match action {
            Action::Claim(d) => d,
            Action::Retry(mut d) => {
                // Written before the call: a crash during it leaves a `queued` row whose
                // lease expiry sends it again with the same key. The write is a
                // compare-and-set on the snapshot the decision was taken on: another
                // notifier (or task) that took this retry first makes it fail, and then
                // this one does not call the provider.
                d.status = DeliveryStatus::Queued;
                d.next_try_ns = None;
                d.updated_ns = now_ns();
                match self.outbox.update(self.records.as_ref(), d.clone()).await {
                    Ok(()) => d.version = d.version.wrapping_add(1),
                    Err(StoreError::Conflict(_)) => {
                        DuplicateSkipped.emit(&self.metrics);
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                }
                DeliveryRetried.emit(&self.metrics);
                d
            }
        };
        let deadline = alert.fired_ns
            + self.reliability.deadline_s.get(alert.priority) as Nanos * NANOS_PER_SEC;
        if let Some(wait) = self.breaker(delivery.channel).and_then(Breaker::closes_in) {
            // Not a try: the provider was not called. The row is due again when the
            // circuit closes, as long as that is within the deadline.
            let now = now_ns();
            let at = now.saturating_add(Nanos::try_from(wait.as_nanos()).unwrap_or(Nanos::MAX));
            delivery.updated_ns = now;
            delivery.status = DeliveryStatus::Failed;
            delivery.error = Some(format!(
                "{} provider circuit open",
                delivery.channel.as_str()
            ));
            delivery.next_try_ns = (at <= deadline).then_some(at);
            BreakerRejected {
                alert: &alert.id,
                channel: delivery.channel,
                will_retry: delivery.next_try_ns.is_some(),
            }
            .emit(&self.metrics);
            return self.record(delivery).await;
        }
        let result = self.send(alert, &delivery, &user, &key).await;
        delivery.tries = delivery.tries.saturating_add(1);
        ProviderCalled.emit(&self.metrics);
        let now = now_ns();
        delivery.updated_ns = now;
        match result {
            Ok(receipt) => {
                if self.faults.abort_after_provider_accept && delivery.channel != Channel::InApp {
                    // Test hook: die exactly in the window between the provider's yes
                    // and our record of it.
                    tracing::error!("fault injection: aborting after the provider accepted");
                    std::process::abort();
                }
                delivery.status = if delivery.channel == Channel::InApp {
                    DeliveryStatus::Delivered
                } else {
                    DeliveryStatus::Sent
                };
                delivery.provider_id = Some(receipt.provider_id);
                delivery.sent_ns = Some(now);
                delivery.error = None;
                DeliverySent {
                    alert: &alert.id,
                    channel: delivery.channel,
                    recipient: &user.id,
                    level: delivery.attempt,
                    tries: delivery.tries,
                    seconds_since_fired: (now - alert.fired_ns) as f64 / 1e9,
                }
                .emit(&self.metrics);
            }
            Err(e) => {
                delivery.status = DeliveryStatus::Failed;
                delivery.error = Some(e.to_string());
                delivery.next_try_ns = if e.is_retryable() {
                    backoff::next_try(&self.reliability, &key, delivery.tries, now, deadline)
                } else {
                    None
                };
                DeliveryFailed {
                    alert: &alert.id,
                    channel: delivery.channel,
                    retryable: e.is_retryable(),
                    will_retry: delivery.next_try_ns.is_some(),
                    error: &e,
                }
                .emit(&self.metrics);
            }
        }
        self.record(delivery).await
    }

    /// Records a row's outcome as a compare-and-set on the version this call wrote.
    /// `Conflict` means the row moved on meanwhile — a provider status callback, or
    /// another notifier that took it over after `claim_lease_ms` — and that change stands.
    pub(crate) async fn record(&self, delivery: Delivery) -> Result<(), StoreError> {
        match self.outbox.update(self.records.as_ref(), delivery).await {
            Err(StoreError::Conflict(why)) => {
                OutcomeSuperseded { why: &why }.emit(&self.metrics);
                Ok(())
            }
            other => other,
        }
    }

    fn is_in_flight(&self, key: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key)
    }

    pub(crate) fn enter_flight(&self, key: &str) -> Option<Flight<'_>> {
        let fresh = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned());
        fresh.then(|| Flight {
            set: &self.in_flight,
            key: key.to_owned(),
        })
    }

    /// Why `user` cannot be paged on `channel` here, if it cannot.
    fn unreachable(&self, channel: Channel, user: &User) -> Option<Unreachable> {
        let (configured, contact) = match channel {
            Channel::Sms | Channel::Voice => (self.twilio.is_some(), user.phone.is_some()),
            Channel::Email => (self.ses.is_some(), user.email.is_some()),
            Channel::InApp => (true, true),
            // Not a person's channel: `acm/report.rs` sends those rows.
            Channel::AlertManager => (false, true),
        };
        match (configured, contact) {
            (false, _) => Some(Unreachable::NotConfigured),
            (true, false) => Some(Unreachable::NoContact),
            (true, true) => None,
        }
    }

    fn breaker(&self, channel: Channel) -> Option<&Breaker> {
        match channel {
            Channel::Sms | Channel::Voice => Some(&self.twilio_breaker),
            Channel::Email => Some(&self.ses_breaker),
            Channel::InApp | Channel::AlertManager => None,
        }
    }

    async fn send(
        &self,
        alert: &Alert,
        delivery: &Delivery,
        user: &User,
        key: &str,
    ) -> Result<ProviderReceipt, ProviderError> {
        let breaker = self.breaker(delivery.channel);
        let result = self.call_provider(alert, delivery, user, key).await;
        if let Some(b) = breaker {
            match &result {
                Ok(_) => b.success(),
                Err(e) if e.is_retryable() => b.failure(),
                Err(_) => {}
            }
        }
        result
    }

    async fn call_provider(
        &self,
        alert: &Alert,
        delivery: &Delivery,
        user: &User,
        key: &str,
    ) -> Result<ProviderReceipt, ProviderError> {
        let channel = delivery.channel;
        let unconfigured =
            || ProviderError::Config(format!("{} is not configured", channel.as_str()));
        let status_cb = self.callbacks.as_ref().map(|c| c.status(delivery));
        match channel {
            Channel::Sms => {
                let twilio = self.twilio.as_ref().ok_or_else(unconfigured)?;
                let to = user.phone.as_deref().ok_or_else(unconfigured)?;
                twilio
                    .send_sms_with_callback(
                        to,
                        &message::sms_text(
                            alert,
                            &delivery.page_code(),
                            self.evidence.links.as_ref(),
                        ),
                        key,
                        status_cb.as_deref(),
                    )
                    .await
            }
            Channel::Voice => {
                let twilio = self.twilio.as_ref().ok_or_else(unconfigured)?;
                let to = user.phone.as_deref().ok_or_else(unconfigured)?;
                let gather = self.callbacks.as_ref().map(|c| c.gather(delivery));
                let twiml = alert_call_twiml(
                    &message::call_text(alert, &delivery.page_code(), self.evidence.links.as_ref()),
                    gather.as_deref(),
                );
                twilio
                    .place_call_with_callback(to, &twiml, key, status_cb.as_deref())
                    .await
            }
            Channel::Email => {
                let ses = self.ses.as_ref().ok_or_else(unconfigured)?;
                let to = user.email.as_deref().ok_or_else(unconfigured)?;
                // The same ids on every send of this page (a re-send after a crash too).
                let (message_id, references) = message::email_ids(delivery, ses.from_address());
                let threading = Threading {
                    message_id: &message_id,
                    references: &references,
                };
                let strip = self.evidence.strip_png(alert, &self.metrics).await;
                let image = strip.as_deref().map(|bytes| InlinePng {
                    name: STRIP_NAME,
                    bytes,
                });
                ses.send_email_with_image(
                    to,
                    &message::subject(alert),
                    &message::email_text(alert, self.evidence.links.as_ref(), image.is_some()),
                    Some(&threading),
                    image.as_ref(),
                )
                .await
            }
            // The api's live feed reads in-app deliveries from the store.
            Channel::InApp => Ok(ProviderReceipt {
                provider_id: format!("in-app:{key}"),
            }),
            Channel::AlertManager => Err(unconfigured()),
        }
    }
}
