//! Wiring: bus sockets, the record store, the analysis loop, the admin listener.

use crate::actions::{Actions, Applied};
use crate::config::AlertEngineConfig;
use crate::events::{
    BeatsRead, BlockAnalysed, ForeignBlockDropped, ForeignVitalsDropped, VitalsJudged,
    WarmupReplayed,
};
use crate::fire_trace::{BlockStamps, FireTrace};
use crate::leases::{Fence, KeeperOutputs, LeaseKeeper, ShardChange};
use crate::live_events::LiveEvents;
use crate::metrics::EngineMetrics;
use crate::news2_trend::News2Trend;
use crate::policies::EngineView;
use crate::writer::{self, Retry, Writer};
use anyhow::Context;
use axum::Router;
use cw_analysis::{PatientMonitor, RuleEvent};
use cw_bus::{Discovery, Kind, Pusher, Sealer, Subscriber};
use cw_core::messages::{CONFIG_TOPIC, ConfigChange, SamplesStored, VitalsStored};
use cw_core::time::{Nanos, now_ns};
use cw_core::{PatientId, ThresholdPolicy, shard_of, shard_topic, vitals_topic};
use cw_runtime::InternalEvent;
use cw_storage::{EngineRecords, EngineStores, SampleStore, WatchdogProbe};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Policies are re-read this often even without a config message (the bus may drop one).
const POLICY_REFRESH: Duration = Duration::from_secs(30);
/// The no-data and stale-numerics rules are checked on the wall clock this often.
const NO_DATA_CHECK: Duration = Duration::from_secs(1);
/// Every sample topic (`s/{shard:03}`), for an engine whose shards change at run time.
const SAMPLES_TOPIC_PREFIX: &str = "s/";
/// Every vitals topic (`v/{shard:03}`), likewise.
const VITALS_TOPIC_PREFIX: &str = "v/";
/// How far past our clock a warm-up reads stored ECG and numerics: a device clock ahead
/// of ours stamps what it sent in our future, and that is still stored, so an hour ahead
/// counts too.
const WARM_UP_AHEAD_NS: Nanos = 3_600 * cw_core::time::NANOS_PER_SEC;

pub struct Running {
    pub alert_push_endpoint: String,
    /// The events PUB for live views, as bound.
    pub live_publish_endpoint: String,
    pub admin_addr: SocketAddr,
    pub task: JoinHandle<()>,
    /// Stage timings of recent fires (for `cardiowatch bench alerts`).
    pub fire_trace: Arc<FireTrace>,
}

struct Engine {
    /// Shards this engine holds a lease on (`leases.rs`); blocks of others are ignored.
    shards: HashSet<u16>,
    /// Gains and losses from the lease keeper.
    changes: mpsc::UnboundedReceiver<ShardChange>,
    /// Read only to warm up taken-over patients.
    samples_store: Arc<dyn SampleStore>,
    warmup_s: u32,
    /// Per warmed-up patient, the end of the stored ECG replayed: live blocks up to it
    /// were already analysed.
    warmed_until: HashMap<PatientId, Nanos>,
    monitors: HashMap<PatientId, PatientMonitor>,
    view: EngineView,
    records: Arc<dyn EngineRecords>,
    /// Stores and pushes rule events off this loop (`writer.rs`).
    writer: Writer,
    metrics: Arc<EngineMetrics>,
    patients: Arc<AtomicUsize>,
    /// Wall-clock time of each patient's last block (engine start for patients not yet
    /// heard from), for the no-data rule.
    last_seen: HashMap<PatientId, Nanos>,
    started_ns: Nanos,
    live: LiveEvents,
    /// Stores each patient's NEWS2 as a trend, off this loop (`news2_trend.rs`).
    news2_trend: News2Trend,
}
/// Runs the service as its binary does: opens the configured stores, serves until
/// `shutdown` is cancelled, drains, and returns.
pub async fn run(cfg: AlertEngineConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let stores = cw_storage::open(&cfg.storage).await?;
    start(cfg, stores.into(), shutdown).await?.task.await?;
    Ok(())
}

pub async fn start(
    cfg: AlertEngineConfig,
    stores: EngineStores,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let sealer = Sealer::from_config(&cfg.bus)?;
    let discovery = Discovery::from_config(&cfg.bus)?;
    let metrics = Arc::new(EngineMetrics::default());
    let (pusher, alert_push_endpoint) = Pusher::bind(
        &cfg.alert_push_endpoint,
        Kind::AlertEvent,
        sealer.clone(),
        metrics.alerts_bus.clone(),
    )
    .await
    .with_context(|| {
        format!(
            "binding the alert PUSH socket at {}",
            cfg.alert_push_endpoint
        )
    })?;
    let (live, live_publish_endpoint) = LiveEvents::bind(
        &cfg.live_publish_endpoint,
        sealer.clone(),
        metrics.live_bus.clone(),
        shutdown.clone(),
    )
    .await
    .with_context(|| {
        format!(
            "binding the live events PUB socket at {}",
            cfg.live_publish_endpoint
        )
    })?;
    // A pinned engine hears only its shards; a leasing one hears every shard and drops
    // the blocks of shards it does not hold, since its set changes at run time.
    let (topics, vital_topics): (Vec<String>, Vec<String>) = if cfg.shards.is_empty() {
        (
            vec![SAMPLES_TOPIC_PREFIX.to_owned()],
            vec![VITALS_TOPIC_PREFIX.to_owned()],
        )
    } else {
        cfg.shards
            .iter()
            .map(|s| (shard_topic(*s), vitals_topic(*s)))
            .unzip()
    };
    let samples = Subscriber::connect(
        &cfg.sample_endpoints,
        &topics,
        Kind::Samples,
        sealer.clone(),
        metrics.samples_bus.clone(),
        &discovery,
        shutdown.clone(),
    );
    // Numerics come on ingest's same socket under their own kind and topics; a second
    // SUB socket, because a subscriber opens one kind.
    let vitals = Subscriber::connect(
        &cfg.sample_endpoints,
        &vital_topics,
        Kind::Vitals,
        sealer.clone(),
        metrics.vitals_bus.clone(),
        &discovery,
        shutdown.clone(),
    );
    let config = Subscriber::connect(
        &cfg.config_endpoints,
        &[CONFIG_TOPIC.to_owned()],
        Kind::ConfigChange,
        sealer,
        metrics.config_bus.clone(),
        &discovery,
        shutdown.clone(),
    );

    // An engine that hears no ingest monitors nobody, and alerts are stored before
    // they are pushed: the record store and a samples link are required. Live events
    // are fire and forget, and policies reload from the store every 30 s, so the events
    // PUB and the config link are only reported.
    let readiness = cw_runtime::Readiness::default()
        .require("record_store", cw_storage::probe(stores.records.clone()))
        .require("bus.samples", {
            let links = samples.links();
            move || std::future::ready(links.probe())
        })
        .report("bus.live_pub", {
            let live = live.clone();
            move || std::future::ready(live.probe())
        })
        .report("bus.config", {
            let links = config.links();
            move || std::future::ready(links.probe())
        })
        .report("bus.vitals", {
            let links = vitals.links();
            move || std::future::ready(links.probe())
        });
    let identity = match &cfg.leases.identity {
        Some(name) if !name.is_empty() && name.len() <= 64 => name.clone(),
        Some(_) => anyhow::bail!("leases.identity must be 1 to 64 characters"),
        None => format!("engine-{}", PatientId::random()),
    };
    let fence = Arc::new(Fence::new(identity.clone()));
    let (changes_tx, changes) = mpsc::unbounded_channel();
    let (probes_tx, probes) = mpsc::unbounded_channel();
    let mut keeper = LeaseKeeper::new(
        stores.records.clone(),
        cfg.leases.clone(),
        &cfg.shards,
        fence.clone(),
        KeeperOutputs {
            changes: changes_tx,
            probes: probes_tx,
        },
        metrics.clone(),
    );
    let readiness = readiness.report("shards", {
        let fence = fence.clone();
        move || {
            std::future::ready(match fence.owned() {
                0 => Err("no shard lease held".to_owned()),
                _ => Ok(()),
            })
        }
    });
    let patients = Arc::new(AtomicUsize::new(0));
    let fire_trace = Arc::new(FireTrace::default());
    let (writer, retries, writer_task) = writer::spawn(Actions {
        records: stores.records.clone(),
        pusher,
        metrics: metrics.clone(),
        trace: fire_trace.clone(),
        strip_padding_s: cfg.strip_padding_s,
        live: live.clone(),
        fence,
    });
    let (news2_trend, news2_task) = News2Trend::spawn(stores.samples.clone(), metrics.clone());
    let mut engine = Engine {
        shards: HashSet::new(),
        changes,
        samples_store: stores.samples.clone(),
        warmup_s: cfg.leases.warmup_s,
        warmed_until: HashMap::new(),
        monitors: HashMap::new(),
        view: EngineView::default(),
        records: stores.records.clone(),
        writer,
        metrics: metrics.clone(),
        patients: patients.clone(),
        last_seen: HashMap::new(),
        started_ns: now_ns(),
        live,
        news2_trend,
    };
    // The first lease round before serving, so a lone engine analyses from its first
    // block; shards held by a dead engine follow once their leases expire.
    keeper.round().await.context("claiming shard leases")?;
    engine
        .load()
        .await
        .context("loading policies and open alerts")?;
    tokio::spawn(keeper.run(shutdown.clone()));

    let admin = cw_tls::Listener::bind(&cfg.admin_listen, &cfg.admin_tls)
        .await
        .with_context(|| format!("binding the admin listener at {}", cfg.admin_listen))?;
    let admin_addr = admin.local_addr()?;
    let router: Router = cw_runtime::admin_routes(readiness, move || {
        metrics.render(patients.load(Ordering::Relaxed))
    });
    tokio::spawn(cw_tls::serve(admin, router, shutdown.clone()));
    tracing::info!(%identity, shards = engine.shards.len(), pinned = !cfg.shards.is_empty(), %alert_push_endpoint, %admin_addr, "alert-engine running");

    let task = tokio::spawn(engine.run(
        Inputs {
            samples,
            vitals,
            config,
            retries,
            probes,
        },
        [writer_task, news2_task],
        shutdown,
    ));
    Ok(Running {
        alert_push_endpoint,
        live_publish_endpoint,
        admin_addr,
        task,
        fire_trace,
    })
}

/// What the engine's loop listens to besides its timers.
struct Inputs {
    samples: Subscriber,
    vitals: Subscriber,
    config: Subscriber,
    retries: mpsc::UnboundedReceiver<Retry>,
    /// The notifier watchdog's rounds for held shards, from the lease keeper.
    probes: mpsc::UnboundedReceiver<WatchdogProbe>,
}

impl Engine {
    async fn run(
        mut self,
        inputs: Inputs,
        drains: [JoinHandle<()>; 2],
        shutdown: CancellationToken,
    ) {
        let Inputs {
            mut samples,
            mut vitals,
            mut config,
            mut retries,
            mut probes,
        } = inputs;
        let mut refresh = tokio::time::interval(POLICY_REFRESH);
        refresh.tick().await;
        let mut no_data = tokio::time::interval(NO_DATA_CHECK);
        no_data.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                message = samples.recv::<SamplesStored>() => match message {
                    Some((_, envelope)) => {
                        self.on_samples(envelope.body, envelope.sent_ns).await
                    }
                    None => break,
                },
                message = vitals.recv::<VitalsStored>() => {
                    if let Some((_, envelope)) = message {
                        self.on_vitals(envelope.body, envelope.sent_ns).await;
                    }
                }
                message = config.recv::<ConfigChange>() => {
                    if let Some((_, envelope)) = message {
                        self.on_config(envelope.body).await;
                    }
                }
                _ = refresh.tick() => {
                    if let Err(e) = self.reload_policies().await {
                        tracing::warn!(error = %e, "policy refresh failed");
                    }
                }
                _ = no_data.tick() => {
                    self.check_no_data().await;
                    self.check_stale_numerics().await;
                }
                Some(change) = self.changes.recv() => self.on_shard_changes(change).await,
                Some(retry) = retries.recv() => self.on_retry(retry),
                // Through this loop, so a stuck loop fails the watchdog's round too.
                Some(probe) = probes.recv() => self.writer.probe(probe).await,
            }
        }
        // The writer (and the NEWS2 trend) finish what the loop decided before the engine
        // reports stopped.
        drop(self);
        for task in drains {
            let _ = task.await;
        }
        tracing::info!("alert-engine stopped");
    }

    fn owns(&self, patient: &PatientId) -> bool {
        self.shards.contains(&shard_of(patient))
    }

    /// The shards of the first lease round: their policies and open alerts, so a
    /// restart neither loses nor duplicates an alert.
    async fn load(&mut self) -> Result<(), cw_storage::StoreError> {
        let mut gained = BTreeSet::new();
        while let Ok(change) = self.changes.try_recv() {
            if let ShardChange::Gained { shard, .. } = change {
                gained.insert(shard);
            }
        }
        self.shards.extend(gained.iter().copied());
        self.take_over(&gained).await?;
        tracing::info!(
            shards = self.shards.len(),
            policies = self.view.policies.len(),
            open_alerts = self.view.open.len(),
            "state rebuilt from the store"
        );
        Ok(())
    }

    /// Applies the keeper's news (and whatever else it queued meanwhile) at once.
    async fn on_shard_changes(&mut self, first: ShardChange) {
        let mut changes = vec![first];
        while let Ok(change) = self.changes.try_recv() {
            changes.push(change);
        }
        let mut gained = BTreeSet::new();
        for change in changes {
            match change {
                ShardChange::Lost { shard } => {
                    gained.remove(&shard);
                    self.forget_shard(shard).await;
                }
                ShardChange::Gained { shard, .. } => {
                    gained.insert(shard);
                    self.shards.insert(shard);
                }
            }
        }
        if gained.is_empty() {
            return;
        }
        if let Err(e) = self.take_over(&gained).await {
            // Policies reload every 30 s, and a fire whose alert is open in the store
            // is adopted there (no page): nothing is lost but time.
            tracing::warn!(error = %e, "taken-over shards not fully loaded");
        }
    }

    /// Stops analysing `shard`: its patients' state goes, so a later owner of it (or
    /// this engine, taking it back) starts from the store.
    async fn forget_shard(&mut self, shard: u16) {
        self.shards.remove(&shard);
        let theirs = |p: &PatientId| shard_of(p) != shard;
        self.monitors.retain(|p, _| theirs(p));
        self.last_seen.retain(|p, _| theirs(p));
        self.warmed_until.retain(|p, _| theirs(p));
        self.view.policies.retain(|p, _| theirs(p));
        self.view.open.retain(|(p, _), _| theirs(p));
        self.view.episodes.retain(|(p, _), _| theirs(p));
        self.patients.store(self.monitors.len(), Ordering::Relaxed);
        self.news2_trend.forget(shard);
        self.writer.forget(shard).await;
    }

    /// Starts analysing `gained`: their policies, their open alerts adopted (resolved
    /// here, never raised again), and each patient warmed up from the stored ECG.
    async fn take_over(&mut self, gained: &BTreeSet<u16>) -> Result<(), cw_storage::StoreError> {
        if gained.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let ours = |p: &PatientId| gained.contains(&shard_of(p));
        let mut patients = BTreeSet::new();
        for policy in self.records.all_policies().await? {
            if ours(&policy.patient) {
                patients.insert(policy.patient.clone());
                self.install_policy(policy);
            }
        }
        let mut adopted = HashMap::new();
        for alert in self.records.open_alerts().await? {
            // Ingest raises and clears this one (`cw_ingest::unmonitored`); a watchdog's
            // synthetic alert is its notifier's to resolve and no patient to analyse.
            if ours(&alert.patient)
                && alert.rule != cw_core::RuleKind::MonitoringInterrupted
                && !alert.patient.is_synthetic()
            {
                let key = (alert.patient.clone(), alert.rule);
                patients.insert(alert.patient.clone());
                self.view.open.insert(key.clone(), alert.id.clone());
                self.view.episodes.insert(key.clone(), alert.episode);
                adopted.insert(key, alert.id);
            }
        }
        let open_alerts = adopted.len();
        self.writer.adopt(adopted).await;
        let now = now_ns();
        let mut warmed = 0;
        for patient in &patients {
            self.last_seen.entry(patient.clone()).or_insert(now);
            warmed += self.warm_up(patient, now).await;
        }
        tracing::info!(
            shards = gained.len(),
            patients = patients.len(),
            open_alerts,
            warmup_blocks = warmed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "shards taken"
        );
        Ok(())
    }

    /// Replays the patient's last `warmup_s` of stored ECG through a fresh monitor, so
    /// heart rate, rhythm and the rules' state resume where the last owner left them;
    /// decisions go to the writer as live ones do (an alert already open is adopted,
    /// not raised again). Returns the blocks replayed.
    async fn warm_up(&mut self, patient: &PatientId, now: Nanos) -> usize {
        self.warm_up_vitals(patient, now).await;
        let from = now - i64::from(self.warmup_s) * cw_core::time::NANOS_PER_SEC;
        let to = now + WARM_UP_AHEAD_NS;
        let frames = match self.samples_store.frames(patient, from, to).await {
            Ok(frames) => frames,
            Err(e) => {
                tracing::warn!(patient = %patient, error = %e, "no warm-up: stored ECG unreadable");
                return 0;
            }
        };
        let blocks = cw_analysis::backtest::stored_blocks(patient, &frames);
        let Some(last) = blocks.last() else {
            return 0;
        };
        self.warmed_until.insert(patient.clone(), last.end_ns());
        for block in &blocks {
            let events = self.monitor(patient).process(block);
            self.apply_all(patient, events, BlockStamps::clock(now))
                .await;
        }
        WarmupReplayed {
            blocks: blocks.len() as u64,
        }
        .emit(&self.metrics);
        blocks.len()
    }

    /// The patient's stored numerics, as far back as NEWS2 reads them (`news2.max_age_s`,
    /// at least the warm-up span), remembered by the monitor without being judged
    /// (`PatientMonitor::remember_vitals`): NEWS2 and the sensor states resume where the
    /// last owner was, and an episode it already alarmed is not raised again.
    async fn warm_up_vitals(&mut self, patient: &PatientId, now: Nanos) {
        let policy = self.view.policy_for(patient);
        let back_s = policy
            .news2
            .as_ref()
            .map_or(0.0, |n| f64::from(n.max_age_s))
            .max(f64::from(self.warmup_s));
        let from = now - cw_core::time::secs(back_s);
        let to = now + WARM_UP_AHEAD_NS;
        match self.samples_store.vitals(patient, from, to).await {
            Ok(readings) if !readings.is_empty() => {
                self.monitor(patient).remember_vitals(&readings, now)
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(patient = %patient, error = %e, "no numerics warm-up: stored numerics unreadable")
            }
        }
    }

    async fn reload_policies(&mut self) -> Result<(), cw_storage::StoreError> {
        let policies = self.records.all_policies().await?;
        for policy in policies {
            if self.owns(&policy.patient) {
                self.install_policy(policy);
            }
        }
        Ok(())
    }

    fn install_policy(&mut self, policy: cw_core::ThresholdPolicy) {
        let current = self.view.policies.get(&policy.patient).map(|p| p.version);
        if current == Some(policy.version) {
            return;
        }
        if let Some(monitor) = self.monitors.get_mut(&policy.patient) {
            monitor.set_policy(policy.clone());
        }
        self.view.policies.insert(policy.patient.clone(), policy);
    }

    async fn on_config(&mut self, change: ConfigChange) {
        match change {
            ConfigChange::Policy { patient, version } => {
                if !self.owns(&patient) {
                    return;
                }
                match self.records.policy(&patient).await {
                    Ok(policy) => {
                        tracing::info!(patient = %patient, version, "policy change applied");
                        self.install_policy(policy);
                    }
                    Err(e) => {
                        tracing::warn!(patient = %patient, error = %e, "policy reload failed")
                    }
                }
            }
        }
    }

    /// `published_ns`: when ingest sent it (the envelope's clock), for the fire trace.
    async fn on_samples(&mut self, message: SamplesStored, published_ns: Nanos) {
        let block = message.block;
        if !self.owns(&block.patient) {
            ForeignBlockDropped.emit(&self.metrics);
            return;
        }
        if let Some(until) = self.warmed_until.get(&block.patient) {
            // Stored before the warm-up read it: analysed already.
            if block.end_ns() <= *until {
                return;
            }
            self.warmed_until.remove(&block.patient);
        }
        BlockAnalysed {
            samples: block.frames() as u64,
        }
        .emit(&self.metrics);
        let now = now_ns();
        let stamps = BlockStamps {
            received_ns: message.received_ns,
            published_ns,
            engine_ns: now,
            block_end_ns: block.end_ns(),
            decided_ns: now,
        };
        self.last_seen.insert(block.patient.clone(), now);
        let monitor = self.monitor(&block.patient);
        // Data is flowing again: the no-data rule clears.
        let back = monitor.on_clock(now, 0.0);
        self.apply_all(&block.patient, back, stamps).await;
        let Some(monitor) = self.monitors.get_mut(&block.patient) else {
            return;
        };
        let before = monitor.readings();
        let events = monitor.process(&block);
        let beats = monitor.readings() - before;
        BeatsRead { beats }.emit(&self.metrics);
        for (at, reading) in monitor.beats() {
            self.live.heart_rate(&block.patient, reading, *at);
        }
        if let Some((at, state)) = monitor.analysis_news() {
            self.live.analysis(&block.patient, at, state);
        }
        self.apply_all(&block.patient, events, stamps).await;
    }

    /// Numerics ingest stored: the patient's vital-sign rules judge them (in the same
    /// monitor as the ECG, so adoption, retries and policy changes are one path).
    async fn on_vitals(&mut self, message: VitalsStored, published_ns: Nanos) {
        let batch = message.batch;
        if !self.owns(&batch.patient) {
            ForeignVitalsDropped.emit(&self.metrics);
            return;
        }
        VitalsJudged {
            readings: batch.readings.len() as u64,
        }
        .emit(&self.metrics);
        let now = now_ns();
        let stamps = BlockStamps {
            received_ns: message.received_ns,
            published_ns,
            engine_ns: now,
            block_end_ns: batch
                .readings
                .iter()
                .map(|r| r.time_ns)
                .max()
                .unwrap_or(now),
            decided_ns: now,
        };
        let monitor = self.monitor(&batch.patient);
        let events = monitor.on_vitals_received(&batch.readings, now);
        if let Some(assessment) = monitor.news2().cloned() {
            self.live.news2(&batch.patient, &assessment);
            self.news2_trend.offer(&batch.patient, &assessment);
        }
        self.apply_all(&batch.patient, events, stamps).await;
    }

    /// The patient's monitor, created with its policy and open alerts on first use.
    fn monitor(&mut self, patient: &PatientId) -> &mut PatientMonitor {
        if !self.monitors.contains_key(patient) {
            let mut monitor = PatientMonitor::new(self.view.policy_for(patient));
            for key in self.view.open.keys() {
                if &key.0 == patient {
                    let episode = self.view.episodes.get(key).copied().unwrap_or_default();
                    monitor.adopt_open(key.1, episode);
                }
            }
            self.monitors.insert(patient.clone(), monitor);
            self.patients.store(self.monitors.len(), Ordering::Relaxed);
        }
        self.monitors
            .entry(patient.clone())
            .or_insert_with(|| PatientMonitor::new(ThresholdPolicy::empty(patient.clone())))
    }

    /// Hands each rule event, in order, to the writer, which makes it durable and known.
    async fn apply_all(
        &mut self,
        patient: &PatientId,
        events: Vec<RuleEvent>,
        stamps: BlockStamps,
    ) {
        if events.is_empty() {
            return;
        }
        let policy = self.view.policy_for(patient);
        let stamps = BlockStamps {
            decided_ns: now_ns(),
            ..stamps
        };
        for event in events {
            self.writer.apply(patient, &policy, event, stamps).await;
        }
    }

    /// A transition the writer could not make durable: a failed store write puts the
    /// rule back so it tries again.
    fn on_retry(&mut self, retry: Retry) {
        if let Some(monitor) = self.monitors.get_mut(&retry.patient) {
            match retry.applied {
                Applied::Done => {}
                Applied::RetryFire(rule) => monitor.reset_rule(rule),
                Applied::RetryResolve(rule) => monitor.keep_open(rule),
            }
        }
    }

    /// Wall-clock stale-numerics check of every monitored patient whose policy has the
    /// rule: a sensor that stopped sends nothing that would judge it
    /// (`cw_analysis::vital_alarms`).
    async fn check_stale_numerics(&mut self) {
        let now = now_ns();
        let watched: Vec<PatientId> = self
            .monitors
            .iter()
            .filter(|(_, m)| m.policy().stale_numerics.is_some())
            .map(|(p, _)| p.clone())
            .collect();
        for patient in watched {
            let events = self.monitor(&patient).on_vitals_clock(now);
            self.apply_all(&patient, events, BlockStamps::clock(now))
                .await;
        }
    }

    /// Wall-clock no-data check for every owned patient whose policy has the rule.
    async fn check_no_data(&mut self) {
        let now = now_ns();
        let watched: Vec<PatientId> = self
            .view
            .policies
            .values()
            .filter(|p| p.no_data.is_some())
            .map(|p| p.patient.clone())
            .collect();
        for patient in watched {
            let last = self
                .last_seen
                .get(&patient)
                .copied()
                .unwrap_or(self.started_ns);
            let silent_s = (now - last) as f64 / 1e9;
            let events = self.monitor(&patient).on_clock(now, silent_s);
            self.apply_all(&patient, events, BlockStamps::clock(now))
                .await;
        }
    }
}
