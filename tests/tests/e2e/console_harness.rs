//! What the console's browser tests share (`console_browser.rs`, `console_patient.rs`,
//! `console_actions.rs`, `console_admin.rs`):
//! the four service processes on the embedded store with a Twilio sandbox, a patient with
//! its doctor and device, another doctor's patient, an admin's calls to the api, a
//! doctor's password sign-in in the page, and record 100 streamed at real time.

use cardiowatch::fixture::{self, Fixture, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions, GatewayStats};
use cw_core::time::{Nanos, now_ns};
use cw_core::{Patient, Role, UserId};
use cw_e2e::system::{Mode, Providers, System};
use cw_e2e::webdriver::Browser;
use cw_sandbox::TwilioSandbox;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The stack before its services start (a test may seed the store first).
pub(crate) struct Console {
    pub sandbox: TwilioSandbox,
    pub system: System,
    pub fixture: Fixture,
}

impl Console {
    /// The sandbox and the stores, with `spec`'s patient, doctor and device installed.
    pub async fn prepare(spec: &FixtureSpec<'_>) -> Self {
        let sandbox = TwilioSandbox::start(0).await.expect("twilio sandbox");
        let system = System::prepare(Mode::Embedded).await;
        let fixture = fixture::install(system.stores.records.as_ref(), spec)
            .await
            .expect("fixture installed");
        Self {
            sandbox,
            system,
            fixture,
        }
    }

    /// A patient of `doctor` only (another doctor than the fixture's), stored.
    pub async fn foreign_patient(&self, doctor: &str) -> Patient {
        let stranger = UserId::parse(doctor).expect("id");
        let foreign = cw_e2e::api::patient(&[&stranger]);
        self.system
            .stores
            .records
            .put_patient(&foreign)
            .await
            .expect("foreign patient");
        foreign
    }

    /// Starts the four services, paging through the sandbox.
    pub async fn start(&mut self) {
        self.start_with_email(None).await;
    }

    /// [`Self::start`], and email through moto's SES at `ses` = (endpoint, sender).
    pub async fn start_with_email(&mut self, ses: Option<(String, String)>) {
        if let Some((endpoint, from)) = &ses {
            // Makes the sender an identity moto accepts mail from.
            cw_e2e::notifier::moto_ses_section(endpoint, from).await;
        }
        self.system
            .start_all(&Providers {
                twilio_base_url: self.sandbox.base_url(),
                ses,
            })
            .await;
    }

    /// Streams `seconds` of record 100 at real time from the fixture's device; cancel the
    /// token to stop early.
    pub fn stream_record_100(
        &self,
        seconds: f64,
    ) -> (JoinHandle<anyhow::Result<()>>, CancellationToken) {
        let streaming = CancellationToken::new();
        let task = tokio::spawn(gateway::stream_record(
            GatewayOptions {
                url: self.system.ingest_url(),
                device_token: self.fixture.device_token.clone(),
                ca_cert: Some(self.system.ca_cert.clone()),
                record: record_100_path(),
                speed: 1.0,
                seconds: Some(seconds),
                offset_s: 0.0,
                block_ms: 250,
                window: 64,
                vitals: None,
            },
            Arc::new(GatewayStats::default()),
            streaming.clone(),
        ));
        (task, streaming)
    }

    /// The time the gateway gave record 100's sample 0 in a stream started after `since`:
    /// the first frame stored for the fixture's patient (the gateway dates sample `i` at
    /// its start plus `i` / 360 s: `cardiowatch::gateway`), checked to hold the record's
    /// first samples, so it is sample 0 and not a later one. Waits up to 10 s for it.
    pub async fn record_100_start_ns(&self, since: Nanos) -> Nanos {
        let record = cw_wfdb::Record::open(record_100_path()).expect("record 100");
        let leads = record.signal_count();
        let first: Vec<i16> = record.microvolts_interleaved()[..4 * leads].to_vec();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stored = self
                .system
                .stores
                .samples
                .frames(&self.fixture.patient.id, since, now_ns())
                .await
                .expect("stored frames");
            if stored.len() >= 4 {
                let values: Vec<i16> = stored[..4].iter().flat_map(|(_, v)| v.clone()).collect();
                assert_eq!(
                    values, first,
                    "the first stored frames are record 100's first samples"
                );
                return stored[0].0;
            }
            assert!(
                Instant::now() < deadline,
                "record 100's first samples were not stored"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Record 100 of the MIT-BIH database as the tests stream it (its `.atr` beside it).
pub(crate) fn record_100_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mitdb/100")
}

pub(crate) fn admin_token(system: &System) -> String {
    cw_api::token::issue(
        system.jwt_secret.as_bytes(),
        "cardiowatch",
        &UserId::parse("admin-console").expect("id"),
        Role::Admin,
        600,
    )
    .expect("token")
}

/// `method path` as an admin; panics unless it succeeds. The answer's JSON (null if none).
pub(crate) async fn admin_call(
    system: &System,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let response = system
        .https()
        .request(method.clone(), system.api_url(path))
        .bearer_auth(admin_token(system))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Signs `user` in on the page at `url` (the sign-in form must be showing) and waits for
/// the worklist it opens on.
pub(crate) async fn sign_in(browser: &Browser, url: &str, user: &str, password: &str) {
    sign_in_to(
        browser,
        url,
        user,
        password,
        "the worklist after sign-in",
        "const t = document.getElementById('worklist'); return t && t.dataset.ready === '1';",
    )
    .await;
}

/// Signs `user` in on the page at `url` and waits until `ready` (a script) holds: the
/// first page of the user's role (docs/console.md, "Pages").
pub(crate) async fn sign_in_to(
    browser: &Browser,
    url: &str,
    user: &str,
    password: &str,
    what: &str,
    ready: &str,
) {
    browser.goto(url).await;
    browser.type_into("#user", user).await;
    browser.type_into("#password", password).await;
    browser.click("#signin-submit").await;
    browser
        .wait_for(what, ready, json!([]), Duration::from_secs(10))
        .await;
}
