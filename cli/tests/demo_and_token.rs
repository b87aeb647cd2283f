//! What a gateway maker needed from the demo and the token command without reading our
//! code: an admin token (or the command for one) and the batch URL, printed by the demo
//! and working; `token` usable with the environment variable alone; and the demo's
//! webhooks refuse acknowledgements signed with a guessable token.

use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_cardiowatch");

#[test]
fn token_help_does_not_mark_the_secret_required_and_the_env_var_is_enough() {
    let help = Command::new(BIN)
        .args(["token", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    let usage = help
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_else(|| panic!("no usage line:\n{help}"));
    assert!(!usage.contains("--secret"), "{usage}");
    assert!(help.contains("CW_AUTH__JWT_SECRET"), "{help}");

    let secret = "a".repeat(64);
    let out = Command::new(BIN)
        .args(["token", "--user", "admin-1", "--role", "admin"])
        .env("CW_AUTH__JWT_SECRET", &secret)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout);
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");

    let out = Command::new(BIN)
        .args(["token", "--user", "admin-1"])
        .env_remove("CW_AUTH__JWT_SECRET")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CW_AUTH__JWT_SECRET"), "{stderr}");
}

#[test]
fn token_reads_the_secret_from_the_file_the_compose_secret_variable_names() {
    // In the compose api container the secret is /run/secrets/jwt_secret, named by
    // CW_AUTH__JWT_SECRET_FILE (docker-compose.yml), not a value in the environment.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("jwt_secret");
    std::fs::write(&file, format!("{}\n", "b".repeat(64))).expect("secret written");
    let out = Command::new(BIN)
        .args(["token", "--user", "admin-1", "--role", "admin"])
        .env_remove("CW_AUTH__JWT_SECRET")
        .env("CW_AUTH__JWT_SECRET_FILE", &file)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let claims = cw_api::token::verify(&"b".repeat(64).into_bytes(), "cardiowatch", &token);
    assert!(claims.is_ok(), "signed with the file's secret: {claims:?}");

    let both = Command::new(BIN)
        .args(["token", "--user", "admin-1"])
        .env("CW_AUTH__JWT_SECRET", "c".repeat(64))
        .env("CW_AUTH__JWT_SECRET_FILE", &file)
        .output()
        .expect("runs");
    assert!(
        !both.status.success(),
        "a value and a file at once is refused"
    );
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("not both"),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
}

/// The value after `label` on the first line that has it.
fn after<'a>(lines: &'a [String], label: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.split_once(label).map(|(_, rest)| rest.trim()))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{}", lines.join("\n")))
}

/// A running `cardiowatch demo` (killed on drop), its banner read up to "streaming", and a
/// client trusting its CA.
struct Demo {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    child: tokio::process::Child,
    lines: Vec<String>,
    http: reqwest::Client,
}

impl Demo {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let mut child = tokio::process::Command::new(BIN)
            .arg("demo")
            .arg("--data-dir")
            .arg(&data)
            .args(["--seconds", "60", "--phone-ack", "none"])
            // Any directory: the record is built into the binary.
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("demo starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut lines = Vec::new();
        tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = stdout.next_line().await.expect("stdout readable") {
                let done = line.starts_with("streaming ");
                lines.push(line);
                if done {
                    return;
                }
            }
            panic!("the demo ended before streaming:\n{}", lines.join("\n"));
        })
        .await
        .expect("the demo printed its banner within 2 min");
        let ca = std::fs::read(data.join("certs/ca.pem")).expect("the demo's CA");
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
            .build()
            .expect("client");
        Self {
            _dir: dir,
            data,
            child,
            lines,
            http,
        }
    }

    async fn stop(mut self) {
        self.child.start_kill().expect("demo stopped");
        let _ = self.child.wait().await;
    }
}

#[tokio::test]
async fn the_demo_prints_an_admin_token_and_the_batch_url_that_work() {
    let demo = Demo::start().await;
    let (lines, data, http) = (&demo.lines, &demo.data, &demo.http);
    let api = after(lines, "api:").to_owned();
    let batches = after(lines, "ingest batches (HTTPS POST):").to_owned();
    let admin_token = after(lines, "admin access token (15 min):").to_owned();
    let command = after(lines, "a new one:");
    assert!(
        command.contains("cardiowatch token --user admin-demo --role admin")
            && command.contains(&data.join("jwt.secret").display().to_string()),
        "{command}"
    );

    let devices = http
        .get(format!("{api}/v1/devices"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .expect("api answers");
    assert_eq!(devices.status(), 200, "the admin token lists devices");
    let devices = devices.text().await.expect("body");
    assert!(devices.contains("gateway-demo-1"), "{devices}");

    // The printed command mints a token the api accepts too.
    let secret = std::fs::read_to_string(data.join("jwt.secret")).expect("secret");
    let minted = Command::new(BIN)
        .args(["token", "--user", "admin-demo", "--role", "admin"])
        .env("CW_AUTH__JWT_SECRET", secret.trim())
        .output()
        .expect("token runs");
    let minted = String::from_utf8_lossy(&minted.stdout).trim().to_owned();
    let status = http
        .get(format!("{api}/v1/devices"))
        .bearer_auth(&minted)
        .send()
        .await
        .expect("api answers")
        .status();
    assert_eq!(status, 200);

    // The batch URL is ingest's: without a device token, its typed 401.
    let refused = http
        .post(&batches)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("ingest answers");
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");

    demo.stop().await;
}

/// Issue 13, finding 17: the demo's Twilio auth token was the constant `sandbox`, so
/// anyone who reached its webhooks could sign an SMS acknowledgement. Signed with that
/// constant, a reply is refused as forged: the demo's token is random per run.
#[tokio::test]
async fn an_sms_ack_signed_with_the_old_constant_demo_token_is_refused() {
    let demo = Demo::start().await;
    let webhooks = after(&demo.lines, "twilio webhooks:")
        .split_whitespace()
        .next()
        .expect("the webhook URL")
        .to_owned();
    let signer = cw_sandbox::TwilioSandbox::start(0).await.expect("a signer");
    let url = format!("{webhooks}{}", cw_notifier::webhooks::SMS_PATH);
    let (status, body) = signer
        .reply_sms(&demo.http, "sandbox", &url, "+15005550006", "1")
        .await
        .expect("the webhook answers");
    assert_eq!(
        status, 403,
        "a reply signed with `sandbox` was accepted: {body}"
    );
    demo.stop().await;
}
