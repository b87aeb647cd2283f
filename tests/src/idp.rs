//! A real OpenID provider for the OIDC sign-in tests: panva's `oidc-provider` run by
//! `tests/assets/oidc/idp.mjs` under node (both installed by `scripts/test`), with one
//! confidential client — the api's console — and its development login page (any login
//! name signs in as that `sub`). Killed when dropped.

use crate::env::free_port;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CLIENT_ID: &str = "cardiowatch-console";

pub struct Idp {
    /// `http://127.0.0.1:port`: its issuer, and where its discovery document is.
    pub issuer: String,
    pub client_secret: String,
    child: Child,
}

impl Idp {
    /// Starts the provider for a client whose callback is `redirect_uri`; fails loudly
    /// without node or `CW_TEST_OIDC_PROVIDER` (set by `scripts/test`).
    pub fn start(redirect_uri: &str) -> Idp {
        let module = std::env::var("CW_TEST_OIDC_PROVIDER").unwrap_or_else(|_| {
            panic!("CW_TEST_OIDC_PROVIDER is not set: run through scripts/test, which installs oidc-provider from npm")
        });
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/oidc/idp.mjs");
        let port = free_port();
        let client_secret = cw_bus::Sealer::generate_key_hex();
        let mut child = Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .arg(redirect_uri)
            .arg(CLIENT_ID)
            .arg(&client_secret)
            .env("CW_TEST_OIDC_PROVIDER", module)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting node {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("listening ") {
                    let _ = tx.send(line);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let line = loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                break line;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the OIDC provider exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the OIDC provider did not start in 30 s"
            );
        };
        Idp {
            issuer: line.trim_start_matches("listening ").to_owned(),
            client_secret,
            child,
        }
    }

    /// Points `cfg`'s `[oidc]` at this provider: its bearer tokens and the console's
    /// sign-in, over plain HTTP (loopback only).
    pub fn configure(&self, cfg: &mut cw_api::ApiConfig, redirect_uri: &str) {
        cfg.oidc.enabled = true;
        cfg.oidc.name = "Hospital IdP".into();
        cfg.oidc.issuer = self.issuer.clone();
        cfg.oidc.audience = CLIENT_ID.into();
        cfg.oidc.jwks_url = format!("{}/jwks", self.issuer);
        cfg.oidc.allow_http = true;
        cfg.oidc.client_id = CLIENT_ID.into();
        cfg.oidc.client_secret = Some(self.client_secret.clone().into());
        cfg.oidc.redirect_uri = redirect_uri.into();
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
