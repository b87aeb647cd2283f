//! `docker-compose.yml` booted as compose would boot it, without a docker engine
//! (`cw_e2e::compose`): the four services as native processes with the file's commands,
//! environment, secret files, mounted configs and ports, against an InfluxDB with auth
//! on (initialised by the image's `INFLUXDB_*` variables) and the MongoDB-protocol
//! server; then the demo profile's gateway simulator streams, and the page reaches the
//! doctor's phone at the Twilio emulator. A file that cannot boot fails here, naming why.

use cardiowatch::fixture::{self, FixtureSpec};
use cw_core::Role;
use cw_e2e::compose::{ComposeError, Operator, Override, Stack};
use cw_sandbox::TwilioSandbox;
use std::path::PathBuf;
use std::time::Duration;

const PHONE: &str = "+15005550142";
const PATIENT: &str = "compose-patient-100";
/// Seconds of record 100 the simulator sends, and how much faster than real time: the
/// compose command streams the whole record at real time (30 min).
const SECONDS: &str = "40";
const SPEED: &str = "6";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_owned()
}

fn compose_text() -> String {
    std::fs::read_to_string(repo().join("docker-compose.yml")).expect("docker-compose.yml")
}

async fn up(
    text: &str,
    operator: Operator,
    overrides: Vec<Override>,
) -> Result<Stack, ComposeError> {
    Stack::up(&repo(), text, operator, overrides).await
}

/// The only change to the gateway simulator's command: `--speed` (and a bound), so the
/// test takes seconds, not the record's 30 minutes.
fn faster(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--speed" {
            args.next();
            continue;
        }
        out.push(arg);
    }
    out.extend(["--speed", SPEED, "--seconds", SECONDS].map(String::from));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_stack_boots_on_auth_enabled_servers_and_pages_the_doctor() {
    cw_tls::install_default_crypto();
    let sandbox = TwilioSandbox::start(0).await.expect("twilio emulator");
    let operator = Operator::following_the_readme(&repo());
    let overrides = vec![Override {
        service: "notifier",
        var: "CW_TWILIO__BASE_URL",
        value: sandbox.base_url(),
    }];
    let mut stack = up(&compose_text(), operator, overrides)
        .await
        .unwrap_or_else(|e| panic!("the compose stack did not boot: {e}"));

    // The doctor, patient and device, written with the api's own config (its secrets).
    let api: cw_api::ApiConfig = stack.config_of("api");
    let stores = cw_storage::open(&api.storage)
        .await
        .expect("the stores open as the api opens them");
    let installed = fixture::install(
        stores.records.as_ref(),
        &FixtureSpec {
            patient_id: PATIENT,
            doctor_id: "dr-compose",
            device_id: "gw-compose-1",
            phone: Some(PHONE),
            email: None,
            hr_high_bpm: 70.0,
            for_s: 3.0,
        },
    )
    .await
    .expect("fixture installed");

    // The doctor sets the limit through the published api (the engine hears of it on
    // the config bus; it read no policy for this patient at start).
    let token = cw_api::token::issue(
        stack.operator.secret("jwt_secret").as_bytes(),
        "cardiowatch",
        &installed.doctor.id,
        Role::Doctor,
        300,
    )
    .expect("token");
    let ca = std::fs::read(stack.operator.ca_cert()).expect("CA certificate");
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
        .build()
        .expect("https client");
    let set = https
        .put(format!(
            "https://{}/v1/patients/{PATIENT}/thresholds",
            stack.published("api", 8444)
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({"hr_high": {"bpm": 70.0, "priority": "high"}}))
        .send()
        .await
        .expect("api answers");
    assert_eq!(
        set.status(),
        200,
        "{}",
        set.text().await.unwrap_or_default()
    );

    // `CW_DEVICE_TOKEN=… docker compose --profile demo up gateway-sim` (deploy/README.md).
    stack
        .operator
        .env
        .insert("CW_DEVICE_TOKEN".into(), installed.device_token.clone());
    let (status, log) = stack
        .run_to_end("gateway-sim", faster, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("gateway-sim: {e}"));
    assert!(
        status.success(),
        "gateway-sim failed ({status}):\n{log}\n{}",
        stack.logs()
    );

    let messages = sandbox.wait_for_messages(1, Duration::from_secs(60)).await;
    assert!(
        messages.iter().any(|m| m.to == PHONE),
        "no SMS to the doctor's phone at the Twilio emulator: {messages:?}\n{}",
        stack.logs()
    );
    assert!(
        messages[0].body.contains("heart rate above limit"),
        "{}",
        messages[0].body
    );

    // The samples are in InfluxDB, written by the non-admin user with its secret file's
    // password (asked directly, not through our adapter).
    let password = stack.operator.secret("influx_password");
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/query", stack.influx_url()))
        .query(&[
            ("u", "cardiowatch"),
            ("p", password.as_str()),
            ("db", "cardiowatch"),
            (
                "q",
                &format!("SELECT count(\"l0\") FROM ecg WHERE patient = '{PATIENT}'"),
            ),
        ])
        .send()
        .await
        .expect("influx answers")
        .json()
        .await
        .expect("json");
    let points = body["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0);
    assert!(points > 0, "no samples in InfluxDB: {body}");

    mongodb_users_may_do_only_what_they_need(&stack).await;
}

/// A client of the stack's MongoDB over TLS (trusting the operator's CA), signed in as
/// `user` when given.
async fn mongo_client(stack: &Stack, tls: bool, user: Option<(&str, String)>) -> mongodb::Client {
    use mongodb::options::{AuthMechanism, ClientOptions, Credential};
    let tls = if tls {
        format!("&tls=true&tlsCAFile={}", stack.operator.ca_cert().display())
    } else {
        String::new()
    };
    let uri = format!(
        "mongodb://{}/?directConnection=true&serverSelectionTimeoutMS=3000{tls}",
        stack.mongo_address()
    );
    let mut options = ClientOptions::parse(&uri).await.expect("a MongoDB URI");
    options.credential = user.map(|(name, password)| {
        Credential::builder()
            .username(name.to_owned())
            .password(password)
            .source("cardiowatch".to_owned())
            .mechanism(AuthMechanism::ScramSha256)
            .build()
    });
    mongodb::Client::with_options(options).expect("a client")
}

/// The server's refusal code of `result`, if it refused.
fn refusal<T: std::fmt::Debug>(result: mongodb::error::Result<T>) -> Option<i32> {
    match result {
        Ok(_) => None,
        Err(e) => match e.kind.as_ref() {
            mongodb::error::ErrorKind::Command(c) => Some(c.code),
            mongodb::error::ErrorKind::Authentication { .. } => Some(18),
            other => panic!("not a refusal but {other:?}"),
        },
    }
}

/// What compose's MongoDB lets through (docs/operations.md, "MongoDB users and TLS"): TLS
/// only; nothing without signing in; each service's user reads and writes the records
/// but cannot drop a collection, the database or create users; a wrong password is
/// refused. `Unauthorized` is 13, `AuthenticationFailed` 18.
async fn mongodb_users_may_do_only_what_they_need(stack: &Stack) {
    use mongodb::bson::{Document, doc};
    let plain = mongo_client(stack, false, None).await;
    let answer = plain
        .database("cardiowatch")
        .run_command(doc! {"ping": 1})
        .await;
    assert!(
        answer.is_err(),
        "a plaintext connection was answered: {answer:?}"
    );

    let anonymous = mongo_client(stack, true, None).await;
    let db = anonymous.database("cardiowatch");
    assert_eq!(
        refusal(
            db.collection::<Document>("patients")
                .find_one(doc! {})
                .await
        ),
        Some(13),
        "read without signing in"
    );

    for key in ["ingest", "alert_engine", "notifier", "api"] {
        let user = format!("cw_{key}");
        let password = stack.operator.secret(&format!("mongo_password_{key}"));
        let client = mongo_client(stack, true, Some((&user, password))).await;
        let db = client.database("cardiowatch");
        let patients = db
            .collection::<Document>("patients")
            .count_documents(doc! {})
            .await
            .unwrap_or_else(|e| panic!("{user} reads patients: {e}"));
        assert!(patients >= 1, "{user} sees the patient");
        for (what, command) in [
            ("drop the audit log", doc! {"drop": "audit_events"}),
            (
                "drop an index",
                doc! {"dropIndexes": "alerts", "index": "*"},
            ),
            ("drop the database", doc! {"dropDatabase": 1}),
            (
                "create a user",
                doc! {"createUser": "intruder", "pwd": "intruder-password", "roles": ["dbOwner"]},
            ),
        ] {
            assert_eq!(
                refusal(db.run_command(command).await),
                Some(13),
                "{user} may not {what}"
            );
        }
    }
    let reversed = stack
        .operator
        .secret("mongo_password_api")
        .chars()
        .rev()
        .collect::<String>();
    let wrong = mongo_client(stack, true, Some(("cw_api", reversed))).await;
    assert_eq!(
        refusal(
            wrong
                .database("cardiowatch")
                .run_command(doc! {"ping": 1})
                .await
        ),
        Some(18),
        "a wrong password"
    );
}

#[tokio::test]
async fn a_missing_secret_file_stops_the_stack_before_anything_starts() {
    let operator = Operator::following_the_readme(&repo());
    operator.remove_secret("influx_password");
    let Err(error) = up(&compose_text(), operator, Vec::new()).await else {
        panic!("the stack came up without deploy/secrets/influx_password");
    };
    assert!(
        matches!(&error, ComposeError::MissingSecretFile { secret, .. } if secret == "influx_password"),
        "{error}"
    );
    assert!(
        error.to_string().contains("deploy/secrets/influx_password"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_env_value_stops_the_stack_with_composes_message() {
    let mut operator = Operator::following_the_readme(&repo());
    operator.env.remove("CW_TWILIO__ACCOUNT_SID");
    let Err(error) = up(&compose_text(), operator, Vec::new()).await else {
        panic!("the stack came up without CW_TWILIO__ACCOUNT_SID");
    };
    let text = error.to_string();
    assert!(
        text.contains("CW_TWILIO__ACCOUNT_SID") && text.contains("deploy/README.md"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_variable_in_compose_fails_the_boot_naming_the_service() {
    // A misspelt secret variable on ingest (the first service after the stores): it
    // reaches InfluxDB without a password.
    let text = compose_text().replacen(
        "CW_STORAGE__INFLUX__PASSWORD_FILE:",
        "CW_STORAGE__INFLUX__PASWORD_FILE:",
        1,
    );
    let operator = Operator::following_the_readme(&repo());
    let Err(error) = up(&text, operator, Vec::new()).await else {
        panic!("the stack came up with ingest's InfluxDB password variable misspelt");
    };
    assert_eq!(error.service(), Some("ingest"), "{error}");
    let text = error.to_string();
    // Ingest's own words, quoted from its log: its config refuses the misspelt key.
    assert!(
        text.contains("unknown field `pasword_file`") && text.contains("storage.influx"),
        "the error quotes ingest's log naming the cause: {text}"
    );
    eprintln!("the harness says:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_influx_password_unlike_the_secret_file_fails_the_boot_naming_the_store() {
    // The operator's two copies of the InfluxDB user's password disagree: the image
    // creates the user with `.env`'s, the services log in with the secret file's.
    let mut operator = Operator::following_the_readme(&repo());
    operator
        .env
        .insert("CW_INFLUXDB_USER_PASSWORD".into(), "not-the-secret".into());
    let Err(error) = up(&compose_text(), operator, Vec::new()).await else {
        panic!("the stack came up although its services cannot log in to InfluxDB");
    };
    let text = error.to_string();
    assert!(
        matches!(error, ComposeError::Exited { .. })
            && text.contains("influxdb")
            && text.contains("401"),
        "the first service exits naming the store: {text}"
    );
    eprintln!("the harness says:\n{text}");
}

/// `--profile webhooks` (deploy/README.md, "Twilio webhooks"): the second notifier
/// starts from the file with only `CW_WEBHOOKS__PUBLIC_URL` added to `.env`, is healthy,
/// and its published listener takes a text signed with the operator's auth token over
/// that URL and refuses one signed with another token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhooks_profile_serves_twilio_on_its_published_port() {
    cw_tls::install_default_crypto();
    let sandbox = TwilioSandbox::start(0).await.expect("twilio emulator");
    let operator = Operator::following_the_readme(&repo());
    let overrides = ["notifier", "notifier-webhooks"]
        .map(|service| Override {
            service,
            var: "CW_TWILIO__BASE_URL",
            value: sandbox.base_url(),
        })
        .into();
    let mut stack = up(&compose_text(), operator, overrides)
        .await
        .unwrap_or_else(|e| panic!("the compose stack did not boot: {e}"));
    let public_url = format!("https://{}", stack.published("notifier-webhooks", 8445));
    stack
        .operator
        .env
        .insert("CW_WEBHOOKS__PUBLIC_URL".into(), public_url.clone());
    stack
        .up_service("notifier-webhooks")
        .await
        .unwrap_or_else(|e| panic!("notifier-webhooks did not come up: {e}"));

    let ca = std::fs::read(stack.operator.ca_cert()).expect("CA certificate");
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
        .build()
        .expect("https client");
    let sms_url = format!("{public_url}{}", cw_notifier::webhooks::SMS_PATH);
    let token = stack.operator.secret("twilio_auth_token");
    let (status, body) = sandbox
        .reply_sms(&https, &token, &sms_url, PHONE, "1")
        .await
        .unwrap_or_else(|e| panic!("posting to {sms_url}: {e}"));
    assert!(
        (200..300).contains(&status),
        "a signed text is taken ({status}): {body}\n{}",
        stack.logs()
    );
    let (status, _) = sandbox
        .reply_sms(&https, "not-the-auth-token", &sms_url, PHONE, "1")
        .await
        .unwrap_or_else(|e| panic!("posting to {sms_url}: {e}"));
    assert_eq!(status, 403, "a text signed with another token is refused");
}
