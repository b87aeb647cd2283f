//! Fan-out of one alert to its recipients' channels, through the outbox.
//!
//! Each (alert, channel, recipient, attempt) is *claimed* in the store before the
//! provider is called; a claim that already exists means another notifier (or an earlier
//! run) owns that delivery, so nothing is sent twice. Twilio requests also carry the same
//! key as their idempotency token.

use crate::config::Routing;
use crate::message;
use crate::metrics::NotifierMetrics;
use crate::providers::ses::SesClient;
use crate::providers::twilio::{TwilioClient, alert_call_twiml};
use crate::providers::{ProviderError, ProviderReceipt};
use cw_core::time::now_ns;
use cw_core::{Alert, Channel, Delivery, DeliveryStatus, User};
use cw_storage::{RecordStore, StoreError};
use std::sync::Arc;

pub struct Dispatcher {
    pub records: Arc<dyn RecordStore>,
    pub routing: Routing,
    pub twilio: Option<TwilioClient>,
    pub ses: Option<SesClient>,
    pub metrics: Arc<NotifierMetrics>,
}

impl Dispatcher {
    /// Delivers a firing alert on every routed channel of its first (primary) doctor.
    /// Escalation along the rest of the chain is the escalation issue's work.
    pub async fn notify(&self, alert: &Alert) -> Result<(), StoreError> {
        let patient = self.records.patient(&alert.patient).await?;
        let Some(primary) = patient.doctors.first() else {
            tracing::error!(alert = %alert.id, patient = %alert.patient, "patient has no assigned doctor; nobody to notify");
            return Ok(());
        };
        let user = self.records.user(primary).await?;
        for channel in self.routing.channels(alert.priority) {
            self.deliver(alert, *channel, &user).await?;
        }
        Ok(())
    }

    async fn deliver(
        &self,
        alert: &Alert,
        channel: Channel,
        user: &User,
    ) -> Result<(), StoreError> {
        let mut delivery = Delivery {
            alert: alert.id.clone(),
            channel,
            recipient: user.id.clone(),
            attempt: 1,
            status: DeliveryStatus::Queued,
            provider_id: None,
            error: None,
            updated_ns: now_ns(),
        };
        if !self.can_deliver(channel, user) {
            self.metrics.skipped_unconfigured.inc();
            return Ok(());
        }
        match self.records.claim_delivery(&delivery).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                self.metrics.skipped_duplicate.inc();
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let key = delivery.idempotency_key();
        let result = self.send(alert, channel, user, &key).await;
        delivery.updated_ns = now_ns();
        match result {
            Ok(receipt) => {
                delivery.status = if channel == Channel::InApp {
                    DeliveryStatus::Delivered
                } else {
                    DeliveryStatus::Sent
                };
                delivery.provider_id = Some(receipt.provider_id);
                self.count_sent(channel);
                self.metrics
                    .time_to_deliver
                    .observe((delivery.updated_ns - alert.fired_ns) as f64 / 1e9);
                tracing::info!(alert = %alert.id, channel = channel.as_str(), recipient = %user.id, "delivery sent");
            }
            Err(e) => {
                delivery.status = DeliveryStatus::Failed;
                delivery.error = Some(e.to_string());
                self.metrics.failed.inc();
                tracing::warn!(alert = %alert.id, channel = channel.as_str(), retryable = e.is_retryable(), error = %e, "delivery failed");
            }
        }
        self.records.update_delivery(&delivery).await
    }

    fn can_deliver(&self, channel: Channel, user: &User) -> bool {
        match channel {
            Channel::Sms | Channel::Voice => self.twilio.is_some() && user.phone.is_some(),
            Channel::Email => self.ses.is_some() && user.email.is_some(),
            Channel::InApp => true,
        }
    }

    async fn send(
        &self,
        alert: &Alert,
        channel: Channel,
        user: &User,
        key: &str,
    ) -> Result<ProviderReceipt, ProviderError> {
        let unconfigured =
            || ProviderError::Config(format!("{} is not configured", channel.as_str()));
        match channel {
            Channel::Sms => {
                let twilio = self.twilio.as_ref().ok_or_else(unconfigured)?;
                let to = user.phone.as_deref().ok_or_else(unconfigured)?;
                twilio.send_sms(to, &message::text(alert), key).await
            }
            Channel::Voice => {
                let twilio = self.twilio.as_ref().ok_or_else(unconfigured)?;
                let to = user.phone.as_deref().ok_or_else(unconfigured)?;
                let twiml = alert_call_twiml(&message::text(alert), None);
                twilio.place_call(to, &twiml, key).await
            }
            Channel::Email => {
                let ses = self.ses.as_ref().ok_or_else(unconfigured)?;
                let to = user.email.as_deref().ok_or_else(unconfigured)?;
                ses.send_email(to, &message::subject(alert), &message::text(alert))
                    .await
            }
            // The api's live feed reads in-app deliveries from the store.
            Channel::InApp => Ok(ProviderReceipt {
                provider_id: format!("in-app:{key}"),
            }),
        }
    }

    fn count_sent(&self, channel: Channel) {
        match channel {
            Channel::Sms => self.metrics.sent_sms.inc(),
            Channel::Voice => self.metrics.sent_voice.inc(),
            Channel::Email => self.metrics.sent_email.inc(),
            Channel::InApp => self.metrics.sent_in_app.inc(),
        }
    }
}
