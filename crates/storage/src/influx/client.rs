//! HTTP to InfluxDB: auth, gzip, and turning HTTP outcomes into `StoreError`s.

use super::nodes::NodeSpec;
use super::query::Response;
use crate::config::InfluxConfig;
use crate::ports::{Result, StoreError};
use crate::redact;
use cw_core::secret::{ExposeSecret, SecretString};
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::{RequestBuilder, StatusCode};
use std::io::Write;
use std::time::Duration;

enum Auth {
    None,
    /// `Authorization: Token …` (2.x / 3.x v1 API, 1.x behind a token proxy).
    Token(SecretString),
    /// 1.x users: `u` / `p` query parameters.
    UserPassword(String, SecretString),
}

pub(super) struct Client {
    http: reqwest::Client,
    base: String,
    /// `base` without credentials, for logs and errors.
    shown: String,
    database: String,
    auth: Auth,
    gzip: bool,
}

impl Client {
    /// A client of the node `node` (`nodes::resolve`), with `cfg`'s database and
    /// request settings.
    pub(super) fn new(cfg: &InfluxConfig, node: &NodeSpec) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms.max(1)))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("http client: {}", e.without_url())))?;
        let auth = match (&node.token, &node.username, &node.password) {
            (Some(token), _, _) => Auth::Token(token.clone()),
            (None, Some(user), password) => {
                Auth::UserPassword(user.clone(), password.clone().unwrap_or_default())
            }
            (None, None, _) => Auth::None,
        };
        Ok(Self {
            http,
            base: node.url.trim_end_matches('/').to_owned(),
            shown: redact::url(&node.url),
            database: cfg.database.clone(),
            auth,
            gzip: node.gzip,
        })
    }

    /// The node's URL without credentials.
    pub(super) fn url(&self) -> &str {
        &self.shown
    }

    pub(super) fn database(&self) -> &str {
        &self.database
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.auth {
            Auth::None => request,
            Auth::Token(token) => {
                let value = format!("Token {}", token.expose_secret());
                request.header(reqwest::header::AUTHORIZATION, value)
            }
            Auth::UserPassword(user, password) => {
                request.query(&[("u", user.as_str()), ("p", password.expose_secret())])
            }
        }
    }

    /// Writes line protocol; `Ok` once InfluxDB answered 204 (the points are durable in
    /// its WAL).
    pub(super) async fn write(&self, lines: String) -> Result<()> {
        let request = self
            .http
            .post(format!("{}/write", self.base))
            .query(&[("db", self.database.as_str()), ("precision", "ns")]);
        let request = if self.gzip {
            request
                .header(reqwest::header::CONTENT_ENCODING, "gzip")
                .body(gzip(lines.as_bytes())?)
        } else {
            request.body(lines)
        };
        let response = self.authorize(request).send().await.map_err(transport)?;
        check(response).await.map(drop)
    }

    /// Runs InfluxQL. Reads go as GET; statements that change the server (CREATE
    /// DATABASE) must be POST.
    pub(super) async fn query(&self, q: &str, post: bool) -> Result<Response> {
        let url = format!("{}/query", self.base);
        let params = [("db", self.database.as_str()), ("q", q), ("epoch", "ns")];
        let request = if post {
            self.http.post(url).form(&params)
        } else {
            self.http.get(url).query(&params)
        };
        let response = self.authorize(request).send().await.map_err(transport)?;
        let response = check(response).await?;
        let body = response.bytes().await.map_err(transport)?;
        serde_json::from_slice(&body)
            .map_err(|e| StoreError::Corrupt(format!("influxdb /query answer is not JSON: {e}")))
    }
}

/// Connection failures and timeouts are worth retrying. `without_url` because the URL
/// may carry the `p` (password) parameter.
fn transport(err: reqwest::Error) -> StoreError {
    let err = err.without_url();
    if err.is_decode() {
        StoreError::Corrupt(format!("influxdb: {err}"))
    } else {
        StoreError::Unavailable(format!("influxdb: {err}"))
    }
}

/// Passes 2xx through; otherwise the error InfluxDB gave (`{"error": "..."}`) as
/// Unavailable (5xx, 429: retry later) or Corrupt (4xx: this request will never work).
async fn check(response: reqwest::Response) -> Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(500).collect());
    let message = format!("influxdb answered {status}: {message}");
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        Err(StoreError::Unavailable(message))
    } else {
        Err(StoreError::Corrupt(message))
    }
}

fn gzip(raw: &[u8]) -> Result<Vec<u8>> {
    // Fast level: line protocol compresses well even so, and CPU is what ingest lacks.
    let mut encoder = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
    encoder
        .write_all(raw)
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::Corrupt(format!("gzip: {e}")))
}
