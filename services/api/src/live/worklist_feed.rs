//! The worklist's feed (`GET /v1/alerts/live`, `routes/alerts_live.rs`): every patient's
//! alert changes on one broadcast channel, so a worklist of any length is one socket,
//! not one per patient (docs/live.md, "Worklist socket").
//!
//! It lives in the hub beside the patients' feeds and is fed by the same two sources: the
//! alert-engines' events (here subscribed for every shard, `l/`, while a worklist is open:
//! fired and resolved reach the page in tens of milliseconds) and the hub's store poll
//! (acks, snoozes, triage verdicts, "escalate now", and whatever the bus dropped). The
//! pages (deliveries) of the open alerts come from that same poll: the notifier writes
//! them to the store and publishes nothing the api hears, so one read of every open
//! alert's deliveries per poll tells each new or changed row. Each message carries its
//! patient; each socket sends only its caller's ([`Text::patient`]), so the work per
//! change is done once however many worklists are open.

use super::alert_states::AlertStates;
use super::hub::{LiveHub, Text, event_name};
use super::messages::LiveMessage;
use cw_bus::{Kind, Subscriber};
use cw_core::messages::LiveEvent;
use cw_core::{Alert, AlertId, AlertState, Delivery};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// The topic prefix of every shard's live events (`live_topic` is `l/{shard:03}`).
const EVERY_SHARD: &str = "l/";

pub struct WorklistFeed {
    tx: broadcast::Sender<Text>,
    viewers: usize,
    alerts: AlertStates,
    /// Alerts told as open, as last told: a new socket's first `open` messages.
    open: HashMap<AlertId, Alert>,
    /// The pages of the open alerts as last told, by idempotency key.
    pages: HashMap<AlertId, HashMap<String, Delivery>>,
    /// Stops the events subscription when the last worklist closes.
    stop: CancellationToken,
}

/// A worklist socket's place in the hub: its receiver; dropping it unwatches.
pub struct WorklistWatch {
    hub: Arc<LiveHub>,
    pub rx: broadcast::Receiver<Text>,
}

impl Drop for WorklistWatch {
    fn drop(&mut self) {
        let mut feeds = self.hub.feeds();
        if let Some(feed) = feeds.worklist.as_mut() {
            feed.viewers -= 1;
            if feed.viewers == 0 {
                feed.stop.cancel();
                feeds.worklist = None;
            }
        }
    }
}

impl WorklistFeed {
    /// Tells `alert` as `event` when news (`revised`: a record read from the store).
    fn tell(&mut self, alert: &Alert, revised: bool) {
        let before = self.alerts_state(alert);
        let news = if revised {
            self.alerts.revised(alert)
        } else {
            self.alerts.report(alert)
        };
        if !news {
            return;
        }
        let event = if before == Some(alert.state) {
            "updated"
        } else {
            event_name(alert.state)
        };
        let text = Text {
            patient: Some(alert.patient.clone()),
            ..LiveMessage::alert(event, alert).to_text().into()
        };
        let _ = self.tx.send(text);
        if alert.state == AlertState::Resolved {
            self.open.remove(&alert.id);
            self.pages.remove(&alert.id);
        } else {
            self.open.insert(alert.id.clone(), alert.clone());
        }
    }

    fn alerts_state(&self, alert: &Alert) -> Option<AlertState> {
        self.open.get(&alert.id).map(|told| told.state)
    }

    /// A record read back from the store (a vanished alert).
    pub(super) fn revised(&mut self, alert: &Alert) {
        self.tell(alert, true);
    }

    /// The store poll's open alerts: each change told; the alerts told as open that are
    /// missing (resolved: the caller reads them back).
    pub(super) fn polled(&mut self, open: &[Alert]) -> Vec<AlertId> {
        for alert in open {
            self.tell(alert, true);
        }
        let refs: Vec<&Alert> = open.iter().collect();
        self.alerts.vanished(&refs)
    }

    pub(super) fn age(&mut self) {
        self.alerts.age();
    }

    /// The alerts told as open: whose pages the poll reads.
    pub(super) fn open_ids(&self) -> Vec<AlertId> {
        self.open.keys().cloned().collect()
    }

    /// The open alerts' deliveries as the store has them now: each row new or changed
    /// since last told is sent, with its alert's patient.
    pub(super) fn paged(&mut self, rows: Vec<Delivery>) {
        for row in rows {
            let Some(alert) = self.open.get(&row.alert) else {
                continue; // resolved since the read
            };
            let patient = alert.patient.clone();
            let told = self.pages.entry(row.alert.clone()).or_default();
            let key = row.idempotency_key();
            if told.get(&key) == Some(&row) {
                continue;
            }
            let text = Text {
                patient: Some(patient),
                ..LiveMessage::Delivery { delivery: &row }.to_text().into()
            };
            let _ = self.tx.send(text);
            told.insert(key, row);
        }
    }
}

impl LiveHub {
    /// Starts (or joins) the worklist feed; the first viewer subscribes every shard's
    /// live events.
    pub fn watch_worklist(self: &Arc<Self>) -> WorklistWatch {
        let mut feeds = self.feeds();
        let feed = feeds.worklist.get_or_insert_with(|| {
            let stop = self.shutdown_token().child_token();
            tokio::spawn(Arc::clone(self).run_worklist_events(stop.clone()));
            WorklistFeed {
                tx: broadcast::channel(self.cfg.queue.max(1)).0,
                viewers: 0,
                alerts: AlertStates::default(),
                open: HashMap::new(),
                pages: HashMap::new(),
                stop,
            }
        });
        feed.viewers += 1;
        WorklistWatch {
            hub: Arc::clone(self),
            rx: feed.tx.subscribe(),
        }
    }

    /// A new worklist socket's starting point: every open alert (read from the store, and
    /// told to the other worklists if news to them), oldest first, and the socket's
    /// receiver renewed at that same moment — as [`LiveHub::greeting`] for a patient.
    /// The route keeps the caller's.
    pub async fn worklist_greeting(
        &self,
        watch: &mut WorklistWatch,
    ) -> (Vec<Alert>, Vec<Delivery>) {
        let stored = match self.records.open_alerts().await {
            Ok(open) => open,
            Err(e) => {
                // The poll catches up within `alert_poll_ms`.
                tracing::warn!(error = %e, "live: open alerts unavailable at connect");
                Vec::new()
            }
        };
        let mut feeds = self.feeds();
        let Some(feed) = feeds.worklist.as_mut() else {
            return (Vec::new(), Vec::new());
        };
        // Not `revised`: this read may be older than the poll's last (it ran concurrently).
        for alert in &stored {
            feed.tell(alert, false);
        }
        watch.rx = feed.tx.subscribe();
        let mut open: Vec<Alert> = feed.open.values().cloned().collect();
        open.sort_by_key(|a| a.fired_ns);
        // The pages told so far; the ones the poll has not read yet come as messages.
        let pages = open
            .iter()
            .filter_map(|a| feed.pages.get(&a.id))
            .flat_map(|rows| rows.values().cloned())
            .collect();
        (open, pages)
    }

    /// The engines' alert events of every shard, while a worklist is open.
    async fn run_worklist_events(self: Arc<Self>, stop: CancellationToken) {
        if self.cfg.event_endpoints.is_empty() {
            return;
        }
        let mut events = Subscriber::connect(
            &self.cfg.event_endpoints,
            &[EVERY_SHARD.to_owned()],
            Kind::LiveEvent,
            self.sealer.clone(),
            self.metrics.events_bus.clone(),
            &self.discovery,
            stop.clone(),
        );
        loop {
            let message = tokio::select! {
                _ = stop.cancelled() => return,
                message = events.recv::<LiveEvent>() => message,
            };
            let Some((_, envelope)) = message else { return };
            if let LiveEvent::Alert(event) = &envelope.body {
                self.metrics.stages.events_bus.since(envelope.sent_ns);
                if let Some(feed) = self.feeds().worklist.as_mut() {
                    feed.tell(&event.alert, false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::time::now_ns;
    use cw_core::{PatientId, Priority, RuleKind};

    fn feed() -> (WorklistFeed, broadcast::Receiver<Text>) {
        let (tx, rx) = broadcast::channel(16);
        (
            WorklistFeed {
                tx,
                viewers: 1,
                alerts: AlertStates::default(),
                open: HashMap::new(),
                pages: HashMap::new(),
                stop: CancellationToken::new(),
            },
            rx,
        )
    }

    fn told(rx: &mut broadcast::Receiver<Text>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Ok(text) = rx.try_recv() {
            let message: serde_json::Value =
                serde_json::from_str(text.body.as_str()).expect("JSON");
            assert_eq!(
                text.patient.as_ref().map(|p| p.to_string()),
                message["alert"]["patient"].as_str().map(str::to_owned),
                "each message names its patient, for the sockets' filter"
            );
            out.push((
                message["event"].as_str().unwrap_or_default().to_owned(),
                message["alert"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
        out
    }

    #[test]
    fn every_patients_changes_are_told_once_with_their_patient_and_same_state_revisions_as_updated()
    {
        let (mut feed, mut rx) = feed();
        let (p, q) = (PatientId::random(), PatientId::random());
        let a = Alert::firing(p.clone(), RuleKind::HrHigh, Priority::High, now_ns());
        let b = Alert::firing(q.clone(), RuleKind::Pause, Priority::Medium, now_ns());
        assert!(feed.polled(&[a.clone(), b.clone()]).is_empty());
        feed.tell(&a, false);
        let snoozed_b = Alert {
            triage: Some(Box::new(cw_core::triage::Triage {
                verdict: cw_core::triage::Verdict::Confirmed,
                note: None,
                by: "dr".into(),
                at_ns: 1,
            })),
            ..b.clone()
        };
        assert!(feed.polled(&[a.clone(), snoozed_b.clone()]).is_empty());
        // a resolved: missing from the next snapshot, read back and told.
        let vanished = feed.polled(std::slice::from_ref(&snoozed_b));
        assert_eq!(vanished, vec![a.id.clone()]);
        feed.revised(&Alert {
            state: AlertState::Resolved,
            ..a.clone()
        });
        assert_eq!(
            told(&mut rx),
            vec![
                ("fired".into(), a.id.to_string()),
                ("fired".into(), b.id.to_string()),
                ("updated".into(), b.id.to_string()),
                ("resolved".into(), a.id.to_string()),
            ]
        );
        assert_eq!(feed.open.len(), 1, "only b is open");
    }

    #[test]
    fn each_page_of_an_open_alert_is_told_once_per_change_with_its_patient() {
        use cw_core::{Channel, DeliveryStatus, UserId};
        let (mut feed, mut rx) = feed();
        let p = PatientId::random();
        let a = Alert::firing(p.clone(), RuleKind::HrHigh, Priority::High, now_ns());
        let gone = AlertId::random();
        assert!(feed.polled(std::slice::from_ref(&a)).is_empty());
        let _ = told(&mut rx);
        let doctor = UserId::random();
        let sms = Delivery::claim(a.id.clone(), Channel::Sms, doctor.clone(), 1, 1);
        let stray = Delivery::claim(gone, Channel::Sms, doctor, 1, 1);
        feed.paged(vec![sms.clone(), stray]);
        feed.paged(vec![sms.clone()]);
        let sent = Delivery {
            status: DeliveryStatus::Sent,
            version: 1,
            ..sms.clone()
        };
        feed.paged(vec![sent]);
        let mut seen = Vec::new();
        while let Ok(text) = rx.try_recv() {
            let message: serde_json::Value =
                serde_json::from_str(text.body.as_str()).expect("JSON");
            assert_eq!(message["type"], "delivery");
            assert_eq!(text.patient.as_ref(), Some(&p), "told with its patient");
            seen.push((
                message["delivery"]["channel"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                message["delivery"]["attempt"].as_u64(),
                message["delivery"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
        assert_eq!(
            seen,
            vec![
                ("sms".into(), Some(1), "queued".into()),
                ("sms".into(), Some(1), "sent".into()),
            ],
            "new, then changed; the unchanged repeat and the stray alert's row are not told"
        );
        feed.revised(&Alert {
            state: AlertState::Resolved,
            ..a
        });
        assert!(
            feed.pages.is_empty(),
            "a resolved alert's pages are forgotten"
        );
    }
}
