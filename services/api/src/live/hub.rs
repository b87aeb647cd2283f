//! Bus subscriptions for live views and the fan-out to sockets.
//!
//! Only shards someone watches are subscribed (samples `s/{shard}` and numerics
//! `v/{shard}` from every ingest, events `l/{shard}` from every alert-engine); the last viewer of a shard leaving drops
//! its sockets. Each watched patient has one broadcast channel (the bounded per-socket
//! queue), one ECG decimator and one record of alert states told, so the work per message
//! is done once however many doctors watch.

use super::LiveConfig;
use super::alert_states::AlertStates;
use super::decimate::Decimator;
use super::messages::LiveMessage;
use super::stages::LiveStages;
use super::worklist_feed::WorklistFeed;
use axum::extract::ws::Utf8Bytes;
use cw_analysis::news2_escalation::News2Assessment;
use cw_bus::{BusStats, Discovery, Kind, Sealer, Subscriber};
use cw_core::messages::{AnalysisState, LiveEvent, SamplesStored, VitalsStored, live_topic};
use cw_core::time::{Nanos, now_ns};
use cw_core::{
    Alert, AlertId, AlertState, PatientId, SampleBlock, VitalBatch, shard_of, shard_topic,
    vitals_topic,
};
use cw_runtime::{Counter, MetricsText};
use cw_storage::ApiRecords;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// One serialized message, shared by every socket of the patient (its bytes are
/// reference-counted: a socket sends them without a copy), with when the hub queued it.
#[derive(Clone, Debug)]
pub struct Text {
    pub body: Utf8Bytes,
    pub queued_ns: Nanos,
    /// The patient a worklist message is about: each worklist socket sends only its
    /// caller's (`worklist_feed.rs`). `None` on a patient's own channel.
    pub patient: Option<PatientId>,
}

impl From<String> for Text {
    fn from(body: String) -> Self {
        Self {
            body: body.into(),
            queued_ns: now_ns(),
            patient: None,
        }
    }
}

#[derive(Default)]
pub struct LiveMetrics {
    pub connections: AtomicUsize,
    pub opened: Counter,
    pub dropped: Counter,
    pub closed_behind: Counter,
    pub closed_revoked: Counter,
    pub refused_busy: Counter,
    pub refused_per_user: Counter,
    pub samples_bus: Arc<BusStats>,
    pub vitals_bus: Arc<BusStats>,
    pub events_bus: Arc<BusStats>,
    pub stages: LiveStages,
}

impl LiveMetrics {
    pub fn render(&self) -> String {
        MetricsText::default()
            .gauge(
                "cw_api_live_connections",
                "Open live sockets",
                self.connections.load(Ordering::Relaxed) as f64,
            )
            .counter(
                "cw_api_live_opened_total",
                "Live sockets opened",
                self.opened.get(),
            )
            .counter(
                "cw_api_live_dropped_total",
                "Messages skipped for live sockets that fell behind",
                self.dropped.get(),
            )
            .counter(
                "cw_api_live_closed_behind_total",
                "Live sockets closed for staying behind (code 4008)",
                self.closed_behind.get(),
            )
            .counter(
                "cw_api_live_closed_revoked_total",
                "Live sockets closed because their access was revoked (code 4003)",
                self.closed_revoked.get(),
            )
            .counter(
                "cw_api_live_refused_busy_total",
                "Live sockets refused at max_connections",
                self.refused_busy.get(),
            )
            .counter(
                "cw_api_live_refused_per_user_total",
                "Live sockets refused at max_sockets_per_user",
                self.refused_per_user.get(),
            )
            .counter(
                "cw_api_live_bus_lost_total",
                "Samples, numerics and live events lost on PUB/SUB (sequence gaps)",
                BusStats::get(&self.samples_bus.lost)
                    + BusStats::get(&self.vitals_bus.lost)
                    + BusStats::get(&self.events_bus.lost),
            )
            .counter(
                "cw_api_live_bus_resolve_failures_total",
                "Failed re-resolutions of bus endpoints named by DNS (last peers kept)",
                BusStats::get(&self.samples_bus.resolve_failed)
                    + BusStats::get(&self.vitals_bus.resolve_failed)
                    + BusStats::get(&self.events_bus.resolve_failed),
            )
            .counter(
                "cw_api_live_bus_rejected_total",
                "Live bus messages that failed to open",
                BusStats::get(&self.samples_bus.rejected)
                    + BusStats::get(&self.vitals_bus.rejected)
                    + BusStats::get(&self.events_bus.rejected),
            )
            .finish()
            + &self.stages.render()
    }
}

pub struct LiveHub {
    pub cfg: LiveConfig,
    pub(super) sealer: Sealer,
    pub(super) discovery: Discovery,
    pub(super) records: Arc<dyn ApiRecords>,
    shutdown: CancellationToken,
    pub metrics: LiveMetrics,
    feeds: Mutex<Feeds>,
    /// Open sockets' shared access decisions (`access_recheck.rs`).
    pub rechecks: super::access_recheck::AccessRechecks,
    /// Open sockets per user (`user_sockets.rs`).
    pub users: super::user_sockets::UserSockets,
}

#[derive(Default)]
pub(super) struct Feeds {
    patients: HashMap<PatientId, PatientFeed>,
    /// Shard → (viewers, the token that stops its subscriptions).
    shards: HashMap<u16, (usize, CancellationToken)>,
    /// Every patient's alert changes, while a worklist socket is open.
    pub(super) worklist: Option<WorklistFeed>,
}

struct PatientFeed {
    tx: broadcast::Sender<Text>,
    viewers: usize,
    alerts: AlertStates,
    /// Alerts told as open, as last told: a new socket's first `open` messages.
    open: HashMap<AlertId, Alert>,
    /// The analysis state last heard from the engine (it repeats `learning` every
    /// second while learning, so a socket opened then hears it too).
    analysis: Option<(Nanos, AnalysisState)>,
    /// The NEWS2 last heard from the engine (a socket opened later starts with it).
    news2: Option<News2Assessment>,
    ecg: Decimator,
}

/// A socket's place in the hub: its receiver; dropping it unwatches.
pub struct Watch {
    hub: Arc<LiveHub>,
    patient: PatientId,
    pub rx: broadcast::Receiver<Text>,
}

impl Watch {
    pub fn patient(&self) -> &PatientId {
        &self.patient
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.hub.unwatch(&self.patient);
    }
}

pub(super) fn event_name(state: AlertState) -> &'static str {
    match state {
        AlertState::Firing => "fired",
        AlertState::Acknowledged => "acknowledged",
        AlertState::Resolved => "resolved",
    }
}

impl LiveHub {
    /// The hub and its alert poll (which idles while nobody watches).
    pub fn start(
        cfg: LiveConfig,
        sealer: Sealer,
        discovery: Discovery,
        records: Arc<dyn ApiRecords>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let hub = Arc::new(Self {
            cfg,
            sealer,
            discovery,
            records,
            shutdown: shutdown.clone(),
            metrics: LiveMetrics::default(),
            feeds: Mutex::new(Feeds::default()),
            rechecks: Default::default(),
            users: Default::default(),
        });
        let poller = Arc::downgrade(&hub);
        let period = Duration::from_millis(hub.cfg.alert_poll_ms.max(100));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let Some(hub) = poller.upgrade() else { return };
                if let Err(e) = hub.poll_alerts().await {
                    tracing::warn!(error = %e, "live: alert poll failed; next tick retries");
                }
            }
        });
        hub
    }

    /// Cancelled when the api shuts down (live sockets then close with 1001).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub(super) fn feeds(&self) -> MutexGuard<'_, Feeds> {
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts (or joins) the patient's feed and subscribes its shard if needed.
    pub fn watch(self: &Arc<Self>, patient: &PatientId) -> Watch {
        let shard = shard_of(patient);
        let mut feeds = self.feeds();
        let feed = feeds
            .patients
            .entry(patient.clone())
            .or_insert_with(|| PatientFeed {
                tx: broadcast::channel(self.cfg.queue.max(1)).0,
                viewers: 0,
                alerts: AlertStates::default(),
                open: HashMap::new(),
                analysis: None,
                news2: None,
                ecg: Decimator::new(self.cfg.ecg_max_hz),
            });
        feed.viewers += 1;
        let rx = feed.tx.subscribe();
        let entry = feeds.shards.entry(shard).or_insert_with(|| {
            let stop = self.shutdown.child_token();
            tokio::spawn(Arc::clone(self).run_shard(shard, stop.clone()));
            (0, stop)
        });
        entry.0 += 1;
        Watch {
            hub: Arc::clone(self),
            patient: patient.clone(),
            rx,
        }
    }

    fn unwatch(&self, patient: &PatientId) {
        let mut feeds = self.feeds();
        if let Some(feed) = feeds.patients.get_mut(patient) {
            feed.viewers -= 1;
            if feed.viewers == 0 {
                feeds.patients.remove(patient);
            }
        }
        let shard = shard_of(patient);
        if let Some((viewers, stop)) = feeds.shards.get_mut(&shard) {
            *viewers -= 1;
            if *viewers == 0 {
                stop.cancel();
                feeds.shards.remove(&shard);
            }
        }
    }

    /// A new socket's starting point: the patient's open alerts (read from the store,
    /// and told to the other sockets if news to them), and the socket's receiver renewed
    /// at that same moment, so every alert change is either in this list or comes after
    /// it, never both and never neither.
    pub async fn greeting(&self, watch: &mut Watch) -> Vec<Alert> {
        let stored = match self.records.open_alerts().await {
            Ok(open) => open,
            Err(e) => {
                // The poll catches up; the socket is still useful for HR and ECG.
                tracing::warn!(error = %e, "live: open alerts unavailable at connect");
                Vec::new()
            }
        };
        let mut feeds = self.feeds();
        let Some(feed) = feeds.patients.get_mut(&watch.patient) else {
            return Vec::new();
        };
        for alert in stored.iter().filter(|a| a.patient == watch.patient) {
            Self::tell(feed, alert);
        }
        watch.rx = feed.tx.subscribe();
        let mut open: Vec<Alert> = feed.open.values().cloned().collect();
        open.sort_by_key(|a| a.fired_ns);
        open
    }

    fn tell(feed: &mut PatientFeed, alert: &Alert) {
        if feed.alerts.report(alert) {
            let text = LiveMessage::alert(event_name(alert.state), alert).to_text();
            let _ = feed.tx.send(text.into());
            if alert.state == AlertState::Resolved {
                feed.open.remove(&alert.id);
            } else {
                feed.open.insert(alert.id.clone(), alert.clone());
            }
        }
    }

    async fn run_shard(self: Arc<Self>, shard: u16, stop: CancellationToken) {
        let mut samples = Subscriber::connect(
            &self.cfg.sample_endpoints,
            &[shard_topic(shard)],
            Kind::Samples,
            self.sealer.clone(),
            self.metrics.samples_bus.clone(),
            &self.discovery,
            stop.clone(),
        );
        // Numerics come on ingest's same socket under their own kind and topic; a second
        // SUB socket, because a subscriber opens one kind.
        let mut vitals = Subscriber::connect(
            &self.cfg.sample_endpoints,
            &[vitals_topic(shard)],
            Kind::Vitals,
            self.sealer.clone(),
            self.metrics.vitals_bus.clone(),
            &self.discovery,
            stop.clone(),
        );
        let mut events = Subscriber::connect(
            &self.cfg.event_endpoints,
            &[live_topic(shard)],
            Kind::LiveEvent,
            self.sealer.clone(),
            self.metrics.events_bus.clone(),
            &self.discovery,
            stop.clone(),
        );
        let (mut samples_open, mut events_open) = (
            !self.cfg.sample_endpoints.is_empty(),
            !self.cfg.event_endpoints.is_empty(),
        );
        let mut vitals_open = samples_open;
        while samples_open || vitals_open || events_open {
            tokio::select! {
                _ = stop.cancelled() => return,
                message = samples.recv::<SamplesStored>(), if samples_open => match message {
                    Some((_, envelope)) => {
                        let (stored, stages) = (&envelope.body, &self.metrics.stages);
                        stages.block_to_ingest.span(stored.block.end_ns(), stored.received_ns);
                        stages.ingest_to_publish.span(stored.received_ns, envelope.sent_ns);
                        stages.samples_bus.since(envelope.sent_ns);
                        self.on_block(&stored.block)
                    }
                    None => samples_open = false,
                },
                message = vitals.recv::<VitalsStored>(), if vitals_open => match message {
                    Some((_, envelope)) => self.on_vitals(&envelope.body.batch),
                    None => vitals_open = false,
                },
                message = events.recv::<LiveEvent>(), if events_open => match message {
                    Some((_, envelope)) => {
                        self.metrics.stages.events_bus.since(envelope.sent_ns);
                        self.on_event(&envelope.body)
                    }
                    None => events_open = false,
                },
            }
        }
    }

    fn on_block(&self, block: &SampleBlock) {
        let mut feeds = self.feeds();
        let Some(feed) = feeds.patients.get_mut(&block.patient) else {
            return;
        };
        if let Some(out) = feed.ecg.push(block) {
            let text = LiveMessage::Ecg {
                bucket_ns: out.bucket_ns,
                buckets: &out.buckets,
            }
            .to_text();
            let _ = feed.tx.send(text.into());
        }
    }

    fn on_vitals(&self, batch: &VitalBatch) {
        let mut feeds = self.feeds();
        let Some(feed) = feeds.patients.get_mut(&batch.patient) else {
            return;
        };
        let text = LiveMessage::Vitals {
            readings: &batch.readings,
        }
        .to_text();
        let _ = feed.tx.send(text.into());
    }

    fn on_event(&self, event: &LiveEvent) {
        let mut feeds = self.feeds();
        let Some(feed) = feeds.patients.get_mut(event.patient()) else {
            return;
        };
        match event {
            LiveEvent::HeartRate {
                at_ns,
                average_bpm,
                instant_bpm,
                rr_s,
                ..
            } => {
                let text = LiveMessage::Hr {
                    at_ns: *at_ns,
                    bpm: *average_bpm,
                    instant_bpm: *instant_bpm,
                    rr_ms: (rr_s * 1000.0).round(),
                }
                .to_text();
                let _ = feed.tx.send(text.into());
            }
            LiveEvent::Alert(event) => Self::tell(feed, &event.alert),
            LiveEvent::News2 { assessment, .. } => {
                match serde_json::from_value::<News2Assessment>(assessment.clone()) {
                    Ok(news2) => {
                        let text = LiveMessage::News2 { news2: &news2 }.to_text();
                        let _ = feed.tx.send(text.into());
                        feed.news2 = Some(news2);
                    }
                    // An engine of another version: the view goes without this score.
                    Err(e) => tracing::warn!(error = %e, "live: unreadable NEWS2 event"),
                }
            }
            LiveEvent::Analysis { at_ns, state, .. } => {
                let changed = feed.analysis.is_none_or(|(_, told)| told != *state);
                feed.analysis = Some((*at_ns, *state));
                if changed {
                    let text = LiveMessage::Analysis {
                        at_ns: *at_ns,
                        state: state.as_str(),
                    }
                    .to_text();
                    let _ = feed.tx.send(text.into());
                }
            }
        }
    }

    /// The analysis state last heard for a watched patient (None: nothing heard since the
    /// feed started, i.e. no change and no learning since).
    pub fn analysis_of(&self, patient: &PatientId) -> Option<(Nanos, AnalysisState)> {
        self.feeds().patients.get(patient).and_then(|f| f.analysis)
    }

    /// The NEWS2 last heard for a watched patient (None: none since the feed started).
    pub fn news2_of(&self, patient: &PatientId) -> Option<News2Assessment> {
        self.feeds()
            .patients
            .get(patient)
            .and_then(|f| f.news2.clone())
    }

    /// Alert state from the store for every watched patient and the worklists: acks by
    /// SMS, call or REST (on any replica), and whatever the bus dropped; and for the
    /// worklists, the open alerts' pages.
    async fn poll_alerts(&self) -> Result<(), cw_storage::StoreError> {
        {
            let feeds = self.feeds();
            if feeds.patients.is_empty() && feeds.worklist.is_none() {
                return Ok(());
            }
        }
        let open = self.records.open_alerts().await?;
        let vanished: BTreeSet<_> = {
            let mut feeds = self.feeds();
            let mut vanished = BTreeSet::new();
            for (patient, feed) in feeds.patients.iter_mut() {
                let mine: Vec<&Alert> = open.iter().filter(|a| &a.patient == patient).collect();
                for alert in &mine {
                    Self::tell(feed, alert);
                }
                vanished.extend(feed.alerts.vanished(&mine));
            }
            if let Some(worklist) = feeds.worklist.as_mut() {
                vanished.extend(worklist.polled(&open));
            }
            vanished
        };
        for id in vanished {
            let alert = self.records.get_alert(&id).await?;
            let mut feeds = self.feeds();
            if let Some(feed) = feeds.patients.get_mut(&alert.patient) {
                Self::tell(feed, &alert);
            }
            if let Some(worklist) = feeds.worklist.as_mut() {
                worklist.revised(&alert);
            }
        }
        let paged = {
            let mut feeds = self.feeds();
            for feed in feeds.patients.values_mut() {
                feed.alerts.age();
            }
            feeds.worklist.as_mut().map(|worklist| {
                worklist.age();
                worklist.open_ids()
            })
        };
        // The open alerts' pages, one read for all of them (`worklist_feed.rs`).
        if let Some(ids) = paged.filter(|ids| !ids.is_empty()) {
            let rows = self.records.deliveries_for_alerts(&ids).await?;
            if let Some(worklist) = self.feeds().worklist.as_mut() {
                worklist.paged(rows);
            }
        }
        Ok(())
    }
}
