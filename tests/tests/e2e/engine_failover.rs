//! Two alert-engine processes sharing the 64 shards through leases in the record store;
//! one is killed with SIGKILL mid-stream. The survivor must take its shards over within
//! 10 s, adopt the alerts the dead one had opened without paging again, and page exactly
//! once for a condition that matures after the takeover (docs/architecture.md, "Shards").
//! Embedded mode: one SQLite file shared by the processes.

use cardiowatch::fixture::{self, Fixture, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cw_core::{PatientId, SHARD_COUNT, shard_of};
use cw_e2e::env::free_port;
use cw_e2e::ingest::{metric, record_100};
use cw_e2e::processes::Service;
use cw_e2e::system::{Mode, Providers, System};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const HALF: u16 = SHARD_COUNT / 2;
const VICTIM: &str = "engine-victim";

/// `n` patient ids whose shards lie in `range` (a prefix keeps them apart per test).
fn ids_in(prefix: &str, range: std::ops::Range<u16>, n: usize) -> Vec<String> {
    (0..)
        .map(|k| format!("{prefix}-{k}"))
        .filter(|id| range.contains(&shard_of(&PatientId::parse(id).expect("id"))))
        .take(n)
        .collect()
}

async fn metrics(system: &System, port: u16) -> String {
    system
        .https()
        .get(format!("https://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("engine metrics")
        .text()
        .await
        .expect("metrics text")
}

/// Waits until `ok(metrics)` holds on the engine at `port`.
async fn wait_metrics(system: &System, port: u16, what: &str, ok: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = system
            .https()
            .get(format!("https://127.0.0.1:{port}/metrics"))
            .send()
            .await
            && let Ok(text) = r.text().await
            && ok(&text)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\nlogs:\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A second engine on the system's store and bus, with its own sockets and identity.
fn spawn_second_engine(system: &System) -> (Service, u16) {
    let dir = system.dir().to_path_buf();
    let base = std::fs::read_to_string(dir.join("cw-alert-engine.toml")).expect("engine config");
    let admin = free_port();
    let text = format!(
        "{}\n[leases]\nidentity = \"{VICTIM}\"\n",
        base.replace(
            &format!("tcp://127.0.0.1:{}", system.ports.alerts_push),
            &format!("tcp://127.0.0.1:{}", free_port())
        )
        .replace(
            &format!("127.0.0.1:{}", system.ports.engine_admin),
            &format!("127.0.0.1:{admin}")
        )
        .replace(
            &format!("tcp://127.0.0.1:{}", system.ports.live_pub),
            &format!("tcp://127.0.0.1:{}", free_port())
        )
    );
    let config = dir.join("engine-victim.toml");
    std::fs::write(&config, text).expect("config written");
    let logs = dir.join("engine-victim");
    std::fs::create_dir_all(&logs).expect("log dir");
    (Service::spawn("cw-alert-engine", &config, &logs), admin)
}

fn stream(system: &System, fixture: &Fixture, seconds: f64) -> tokio::task::JoinHandle<()> {
    let options = GatewayOptions {
        url: system.ingest_url(),
        device_token: fixture.device_token.clone(),
        ca_cert: Some(system.ca_cert.clone()),
        record: record_100(),
        speed: 1.0,
        seconds: Some(seconds),
        offset_s: 0.0,
        block_ms: 250,
        window: 64,
        vitals: None,
    };
    tokio::spawn(async move {
        gateway::stream_record(
            options,
            Arc::new(GatewayStats::default()),
            CancellationToken::new(),
        )
        .await
        .expect("gateway streams");
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engines_shards_are_taken_over_within_10_s_and_each_alarm_pages_once() {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(Mode::Embedded).await;
    // Record 100 runs at ~75 bpm. "Early" patients cross a 70 bpm limit 3 s into
    // analysis, before the kill; "late" ones need 30 s of it, so they fire after it.
    let survivor_early = ids_in("failover-early", 0..HALF, 2);
    let victim_early = ids_in("failover-early", HALF..SHARD_COUNT, 3);
    let victim_late = ids_in("failover-late", HALF..SHARD_COUNT, 1);
    let mut patients = Vec::new();
    for (n, (id, for_s)) in survivor_early
        .iter()
        .chain(&victim_early)
        .map(|id| (id, 3.0))
        .chain(victim_late.iter().map(|id| (id, 30.0)))
        .enumerate()
    {
        let phone = format!("+1500555{:04}", 100 + n);
        let fixture = fixture::install(
            system.stores.records.as_ref(),
            &FixtureSpec {
                patient_id: id,
                doctor_id: &format!("dr-failover-{n}"),
                device_id: &format!("gw-failover-{n}"),
                phone: Some(&phone),
                email: None,
                hr_high_bpm: 70.0,
                for_s,
            },
        )
        .await
        .expect("fixture installed");
        patients.push((id.clone(), phone, fixture));
    }
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;
    // The system's engine holds all 64 shards; a second one joins and the two split
    // them: the first keeps its lowest 32, the joiner takes 32..63.
    let (mut victim, victim_admin) = spawn_second_engine(&system);
    let survivor_admin = system.ports.engine_admin;
    let owns = |n: f64| move |m: &str| metric(m, "cw_engine_shards_owned") == n;
    wait_metrics(&system, victim_admin, "the joiner's share", owns(32.0)).await;
    wait_metrics(
        &system,
        survivor_admin,
        "the first engine's share",
        owns(32.0),
    )
    .await;
    let leases = system.stores.records.shard_leases().await.expect("leases");
    for lease in leases.iter().filter(|l| l.shard >= HALF) {
        assert_eq!(lease.owner, VICTIM, "{leases:?}");
    }

    let streams: Vec<_> = patients
        .iter()
        .map(|(_, _, f)| stream(&system, f, 70.0))
        .collect();
    let ids: Vec<PatientId> = patients
        .iter()
        .map(|(id, _, _)| PatientId::parse(id).expect("id"))
        .collect();
    let early = survivor_early.len() + victim_early.len();
    // Every early alert open before the kill.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alerts = system
            .stores
            .records
            .alerts_for_patients(&ids, None, 100)
            .await
            .expect("alerts");
        if alerts.len() >= early {
            assert_eq!(alerts.len(), early, "{alerts:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "early alerts: {alerts:?}\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fired_by_victim = metric(
        &metrics(&system, victim_admin).await,
        "cw_engine_alerts_fired_total",
    );
    assert_eq!(fired_by_victim, victim_early.len() as f64);

    let killed = Instant::now();
    victim.kill();
    // Takeover: every one of the victim's shards leased by the survivor again.
    let taken = loop {
        let leases = system.stores.records.shard_leases().await.expect("leases");
        let now = cw_core::time::now_ns();
        let moved = leases
            .iter()
            .filter(|l| l.shard >= HALF && l.owner != VICTIM && l.is_live(now))
            .count();
        if moved == usize::from(HALF) {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no takeover: {leases:?}\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    wait_metrics(
        &system,
        survivor_admin,
        "the survivor's 64 shards",
        owns(64.0),
    )
    .await;
    let resumed = killed.elapsed();
    println!("kill -9 -> shards leased by the survivor: {taken:?}; analysing all 64: {resumed:?}");
    assert!(
        taken <= Duration::from_secs(10),
        "takeover took {taken:?}, over 10 s"
    );
    let survivor = metrics(&system, survivor_admin).await;
    assert_eq!(
        metric(&survivor, "cw_engine_shard_takeovers_total"),
        f64::from(HALF)
    );
    assert!(metric(&survivor, "cw_engine_warmup_blocks_total") > 0.0);

    // The late patient's condition matures on the survivor: one alert, one page.
    let deadline = Instant::now() + Duration::from_secs(60);
    let alerts = loop {
        let alerts = system
            .stores
            .records
            .alerts_for_patients(&ids, None, 100)
            .await
            .expect("alerts");
        if alerts.len() > early {
            break alerts;
        }
        assert!(
            Instant::now() < deadline,
            "late alert: {alerts:?}\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Let the survivor analyse on through the adopted episodes: nothing raised again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let alerts = system
        .stores
        .records
        .alerts_for_patients(&ids, None, 100)
        .await
        .unwrap_or(alerts);
    for id in &ids {
        let of = alerts.iter().filter(|a| &a.patient == id).count();
        assert_eq!(of, 1, "one alert for {id}: {alerts:?}");
    }
    let messages = sandbox
        .wait_for_messages(patients.len(), Duration::from_secs(20))
        .await;
    for (id, phone, _) in &patients {
        let to = messages.iter().filter(|m| &m.to == phone).count();
        assert_eq!(to, 1, "one SMS for {id}'s alert: {messages:?}");
    }
    assert_eq!(
        metric(
            &metrics(&system, survivor_admin).await,
            "cw_engine_alerts_fired_total"
        ),
        (survivor_early.len() + victim_late.len()) as f64,
        "the survivor raised only its own and the late alert"
    );
    for s in streams {
        s.abort();
    }
}

/// `GET /v1/shards` as ops: the shard map through the api (docs/api.md, "Shard ownership").
async fn shard_map(system: &System, token: &str) -> serde_json::Value {
    let r = system
        .https()
        .get(system.api_url("/v1/shards"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /v1/shards");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    r.json().await.expect("shard map")
}

/// Live owners of the 64 shards in a shard map, shard by shard (`None`: uncovered).
fn live_owners(map: &serde_json::Value) -> Vec<Option<String>> {
    let shards = map["shards"].as_array().expect("shards");
    assert_eq!(shards.len(), usize::from(SHARD_COUNT), "{map}");
    shards
        .iter()
        .map(|s| {
            s["live"]
                .as_bool()
                .expect("live")
                .then(|| s["owner"].as_str().expect("owner").to_owned())
        })
        .collect()
}

/// Ops see, through the api, two engines sharing the 64 shards; after kill -9 of one,
/// the survivor owning all 64 within 10 s, the dead one no longer live, nothing
/// uncovered. Each read is in the audit chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_both_owners_then_the_survivor_owning_all_64_within_10_s() {
    let sandbox = cw_sandbox::TwilioSandbox::start(0)
        .await
        .expect("twilio sandbox");
    let mut system = System::prepare(Mode::Embedded).await;
    system
        .start_all(&Providers {
            twilio_base_url: sandbox.base_url(),
            ses: None,
        })
        .await;
    let ops = cw_core::UserId::parse("ops-shard-map").expect("user id");
    let token = cw_api::token::issue(
        system.jwt_secret.as_bytes(),
        "cardiowatch",
        &ops,
        cw_core::Role::Ops,
        300,
    )
    .expect("token");
    let (mut victim, _) = spawn_second_engine(&system);
    // Both engines own 32 shards each, as the api tells it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (survivor, map) = loop {
        let map = shard_map(&system, &token).await;
        let owners = live_owners(&map);
        let victims = owners.iter().flatten().filter(|o| *o == VICTIM).count();
        let other = owners.iter().flatten().find(|o| *o != VICTIM).cloned();
        if victims == usize::from(HALF) && owners.iter().all(Option::is_some) {
            break (other.expect("the first engine"), map);
        }
        assert!(
            Instant::now() < deadline,
            "two owners never shown: {map}\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(map["uncovered"].as_array().map(Vec::len), Some(0), "{map}");
    let engines = map["engines"].as_array().expect("engines");
    for identity in [VICTIM, survivor.as_str()] {
        let engine = engines
            .iter()
            .find(|e| e["identity"] == identity)
            .unwrap_or_else(|| panic!("{identity} listed: {map}"));
        assert_eq!(engine["live"], true, "{map}");
        assert_eq!(engine["pinned"], false, "{map}");
        assert_eq!(engine["shards"], HALF, "{map}");
        let beat = engine["last_heartbeat_ns"].as_i64().expect("heartbeat");
        let at = map["at_ns"].as_i64().expect("at_ns");
        assert!(at - beat < 10_000_000_000, "a recent heartbeat: {map}");
    }
    for shard in map["shards"].as_array().expect("shards") {
        assert!(
            shard["expires_ns"].as_i64() > map["at_ns"].as_i64(),
            "{shard}"
        );
        assert!(shard["last_heartbeat_ns"].as_i64().is_some(), "{shard}");
    }

    let killed = Instant::now();
    victim.kill();
    let mut saw_uncovered = 0;
    let (taken, map) = loop {
        let map = shard_map(&system, &token).await;
        let owners = live_owners(&map);
        saw_uncovered = saw_uncovered.max(owners.iter().filter(|o| o.is_none()).count());
        if owners
            .iter()
            .all(|o| o.as_deref() == Some(survivor.as_str()))
        {
            break (killed.elapsed(), map);
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no takeover seen through the api: {map}\n{}",
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "kill -9 -> the api shows the survivor owning all 64: {taken:?} (at most {saw_uncovered} shards seen uncovered meanwhile)"
    );
    assert!(
        taken <= Duration::from_secs(10),
        "takeover took {taken:?}, over 10 s"
    );
    assert_eq!(map["uncovered"].as_array().map(Vec::len), Some(0), "{map}");
    let dead = map["engines"]
        .as_array()
        .expect("engines")
        .iter()
        .find(|e| e["identity"] == VICTIM)
        .cloned()
        .unwrap_or_else(|| panic!("the killed engine still listed: {map}"));
    assert_eq!(
        (dead["live"].clone(), dead["shards"].clone()),
        (false.into(), 0.into()),
        "{map}"
    );

    // Audited like every ops read: the actor, the route, allowed.
    let events = system
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    let reads = events
        .iter()
        .filter(|e| e.entry.actor == ops.as_str() && e.entry.action == "GET /v1/shards")
        .count();
    assert!(reads >= 2, "ops reads of the shard map audited: {reads}");
}
