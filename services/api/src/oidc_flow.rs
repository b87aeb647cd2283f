//! The console's sign-in through the OIDC provider (issue 16 item 2; docs/security.md,
//! "OIDC sign-in"): the authorization-code flow with PKCE (S256), `state` and `nonce`.
//!
//! Nothing of a sign-in in progress is kept on the server: its state, nonce, PKCE
//! verifier, return path and deadline travel sealed (XChaCha20-Poly1305, under a key
//! derived from the JWT secret) in a `__Host-` cookie, so whichever api replica the
//! provider sends the browser back to can finish what another began, and the callback is
//! bound to the browser that started it. A state is used once: the callback clears the
//! cookie, each replica remembers the states it finished until they expire, and the
//! provider redeems a code once (a replay at another replica dies at the token endpoint).
//!
//! The ID token is checked by [`OidcVerifier`] (the provider's JWKS; issuer, our
//! `client_id` as audience, expiry) plus the sign-in's nonce; who it is then is decided
//! exactly as for bearer tokens (`authn::oidc_account`).

use crate::config::OidcConfig;
use crate::oidc::{OidcClaims, OidcError, OidcVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use cw_core::secret::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The sign-in in progress (sealed): `Secure; HttpOnly; SameSite=Lax`, and `__Host-` so
/// no subdomain can set or read it.
pub const FLOW_COOKIE: &str = "__Host-cw-oidc-flow";
/// The session the callback began, until the console takes it over (sealed).
pub const HANDOFF_COOKIE: &str = "__Host-cw-oidc-session";
/// The console takes its session over right after the redirect: a minute is plenty.
pub const HANDOFF_TTL_S: u64 = 60;
/// Where the provider sends the browser back (`oidc.redirect_uri` ends with it).
pub const CALLBACK_PATH: &str = "/v1/auth/oidc/callback";

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(
        "return_to must be a console path: /console/ optionally followed by #<page> (no other origin)"
    )]
    ReturnTo,
    #[error(
        "no sign-in in progress in this browser (its sign-in cookie is missing or not ours); start again"
    )]
    NoFlow,
    #[error("this sign-in took too long; start again")]
    Expired,
    #[error("the state does not match this browser's sign-in")]
    StateMismatch,
    #[error("this sign-in was already completed (its state is used up); start again")]
    Replayed,
    #[error("the callback names another issuer than the configured provider")]
    Issuer,
    #[error("the user or the identity provider declined the sign-in: {0}")]
    Denied(String),
    #[error("the identity provider refused the sign-in: {0}")]
    Provider(String),
    #[error("the callback has no {0}")]
    Missing(&'static str),
    #[error("the provider's discovery document could not be used: {0}")]
    Discovery(String),
    #[error("the provider refused the code exchange: {0}")]
    Exchange(String),
    #[error("the ID token was refused: {0}")]
    IdToken(#[from] OidcError),
}

impl FlowError {
    /// A fixed word for what went wrong, which the console's sign-in page turns into a
    /// message of its own (`signin.js`, docs/console.md "Sign-in"): the browser never
    /// gets the provider's text or ours.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ReturnTo => "return_to",
            Self::NoFlow => "no_flow",
            Self::Expired => "expired",
            Self::StateMismatch => "state",
            Self::Replayed => "replayed",
            Self::Issuer => "issuer",
            Self::Denied(_) => "denied",
            Self::Provider(_) => "provider",
            Self::Missing(_) => "missing",
            Self::Discovery(_) => "unavailable",
            Self::Exchange(_) => "exchange",
            Self::IdToken(_) => "id_token",
        }
    }
}

/// What the provider sent back to the callback (query parameters).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's refusal (e.g. `access_denied`, `invalid_request`).
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer of the response (RFC 9207), checked when present.
    pub iss: Option<String>,
}

/// A sign-in in progress, as sealed in [`FLOW_COOKIE`].
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    expires_s: u64,
}

#[derive(Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
}

pub struct CodeFlow {
    verifier: Arc<OidcVerifier>,
    client_secret: SecretString,
    ttl_s: u64,
    cipher: XChaCha20Poly1305,
    discovery: RwLock<Option<(Discovery, Instant)>>,
    /// States this replica finished, until they expire (unix seconds).
    finished: Mutex<HashMap<String, u64>>,
}

impl CodeFlow {
    /// The flow of `verifier`'s provider, when `oidc.client_id` is set; its cookies are
    /// sealed under a key derived from `jwt_secret`.
    pub fn new(verifier: Arc<OidcVerifier>, jwt_secret: &[u8]) -> anyhow::Result<Self> {
        let cfg = verifier.config();
        anyhow::ensure!(
            cfg.redirect_uri.starts_with("https://")
                || (cfg.allow_http && cfg.redirect_uri.starts_with("http://")),
            "oidc.redirect_uri must be the https:// URL of {CALLBACK_PATH} on the api"
        );
        anyhow::ensure!(
            cfg.redirect_uri.ends_with(CALLBACK_PATH),
            "oidc.redirect_uri must end with {CALLBACK_PATH}"
        );
        anyhow::ensure!(
            cfg.flow_ttl_s > 0,
            "oidc.flow_ttl_s must be at least 1 second"
        );
        let client_secret = cfg.client_secret()?;
        // deploy/make-secrets.sh leaves the secret file empty until a provider is set up.
        anyhow::ensure!(
            !client_secret.expose_secret().trim().is_empty(),
            "oidc.client_id is set but the client secret is empty: write the provider's client secret to oidc.client_secret_file"
        );
        let mut key = Sha256::new();
        key.update(b"cardiowatch oidc sign-in cookies v1\0");
        key.update(jwt_secret);
        let cipher = XChaCha20Poly1305::new_from_slice(&key.finalize())
            .map_err(|_| anyhow::anyhow!("cookie key"))?;
        Ok(Self {
            ttl_s: cfg.flow_ttl_s,
            verifier,
            client_secret,
            cipher,
            discovery: RwLock::new(None),
            finished: Mutex::new(HashMap::new()),
        })
    }

    fn cfg(&self) -> &OidcConfig {
        self.verifier.config()
    }

    /// The provider's name for the console's button.
    pub fn name(&self) -> &str {
        &self.cfg().name
    }

    /// The verifier whose provider this flow signs in with.
    pub fn verifier(&self) -> &OidcVerifier {
        &self.verifier
    }

    /// Starts a sign-in that comes back to `return_to`: the provider's authorization URL
    /// to redirect to, and the sealed [`FLOW_COOKIE`] value bound to this browser.
    pub async fn begin(&self, return_to: &str) -> Result<(String, String), FlowError> {
        let return_to = console_path(return_to)?;
        let discovery = self.discovery().await?;
        let pending = Pending {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
            return_to: return_to.to_owned(),
            expires_s: unix_s() + self.ttl_s,
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
        let mut url = reqwest::Url::parse(&discovery.authorization_endpoint)
            .map_err(|e| FlowError::Discovery(format!("authorization_endpoint: {e}")))?;
        let cfg = self.cfg();
        let mut scopes = vec!["openid"];
        scopes.extend(
            cfg.scopes
                .iter()
                .map(String::as_str)
                .filter(|s| *s != "openid"),
        );
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &cfg.client_id)
            .append_pair("redirect_uri", &cfg.redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let sealed = self.seal(
            FLOW_COOKIE,
            &serde_json::to_vec(&pending).unwrap_or_default(),
        );
        Ok((url.into(), sealed))
    }

    /// How long [`FLOW_COOKIE`] lives.
    pub fn ttl_s(&self) -> u64 {
        self.ttl_s
    }

    /// Finishes the sign-in of the browser whose [`FLOW_COOKIE`] is `cookie`: checks the
    /// callback's state against it (once), redeems the code with the PKCE verifier and
    /// our client secret, and verifies the ID token with its nonce. The identity's claims
    /// and the console path to return to.
    pub async fn finish(
        &self,
        cookie: Option<&str>,
        callback: &Callback,
    ) -> Result<(OidcClaims, String), FlowError> {
        let pending: Pending = cookie
            .and_then(|c| self.open(FLOW_COOKIE, c))
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or(FlowError::NoFlow)?;
        let now = unix_s();
        if pending.expires_s <= now {
            return Err(FlowError::Expired);
        }
        let state = callback
            .state
            .as_deref()
            .ok_or(FlowError::Missing("state"))?;
        if !constant_eq(state.as_bytes(), pending.state.as_bytes()) {
            return Err(FlowError::StateMismatch);
        }
        {
            let mut finished = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
            finished.retain(|_, expires| *expires > now);
            if finished
                .insert(pending.state.clone(), pending.expires_s)
                .is_some()
            {
                return Err(FlowError::Replayed);
            }
        }
        if let Some(iss) = &callback.iss
            && *iss != self.cfg().issuer
        {
            return Err(FlowError::Issuer);
        }
        if let Some(error) = &callback.error {
            let description = callback.error_description.as_deref().unwrap_or_default();
            let text = printable(&format!("{error} ({description})")).to_owned();
            // RFC 6749 4.1.2.1: the person (or the provider's policy) said no.
            return Err(if error == "access_denied" {
                FlowError::Denied(text)
            } else {
                FlowError::Provider(text)
            });
        }
        let code = callback.code.as_deref().ok_or(FlowError::Missing("code"))?;
        let id_token = self.redeem(code, &pending.verifier).await?;
        let claims = self
            .verifier
            .verify_id_token(&id_token, &pending.nonce)
            .await?;
        Ok((claims, pending.return_to))
    }

    /// The code's ID token, from the token endpoint (client authentication: HTTP Basic).
    async fn redeem(&self, code: &str, verifier: &str) -> Result<String, FlowError> {
        let discovery = self.discovery().await?;
        let cfg = self.cfg();
        let response = self
            .verifier
            .http()
            .post(&discovery.token_endpoint)
            .basic_auth(
                form_encode(&cfg.client_id),
                Some(form_encode(self.client_secret.expose_secret())),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", cfg.redirect_uri.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| FlowError::Exchange(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            // The OAuth error code only: its body names no token, but keep logs lean.
            let error = response
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["error"].as_str().map(printable).map(str::to_owned))
                .unwrap_or_default();
            return Err(FlowError::Exchange(format!("{status} {error}")));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|e| FlowError::Exchange(e.without_url().to_string()))?;
        answer
            .id_token
            .ok_or_else(|| FlowError::Exchange("no id_token in the answer".into()))
    }

    /// The provider's discovery document, fetched once per `jwks_ttl_s`; its `issuer`
    /// must be the configured one (so another provider cannot stand in).
    async fn discovery(&self) -> Result<Discovery, FlowError> {
        let ttl = Duration::from_secs(self.cfg().jwks_ttl_s);
        if let Some((found, at)) = &*self
            .discovery
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            && at.elapsed() < ttl
        {
            return Ok(found.clone());
        }
        let cfg = self.cfg();
        let url = format!(
            "{}/.well-known/openid-configuration",
            cfg.issuer.trim_end_matches('/')
        );
        let fail = |e: reqwest::Error| FlowError::Discovery(e.without_url().to_string());
        let found: Discovery = self
            .verifier
            .http()
            .get(&url)
            .send()
            .await
            .map_err(fail)?
            .error_for_status()
            .map_err(fail)?
            .json()
            .await
            .map_err(fail)?;
        if found.issuer != cfg.issuer {
            return Err(FlowError::Discovery("its issuer is not oidc.issuer".into()));
        }
        for endpoint in [&found.authorization_endpoint, &found.token_endpoint] {
            if !(endpoint.starts_with("https://")
                || (cfg.allow_http && endpoint.starts_with("http://")))
            {
                return Err(FlowError::Discovery(
                    "an endpoint is not https:// (http only with oidc.allow_http)".into(),
                ));
            }
        }
        tracing::info!("OIDC discovery document fetched");
        *self
            .discovery
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some((found.clone(), Instant::now()));
        Ok(found)
    }

    /// Seals the refresh token that begins a session, for [`HANDOFF_COOKIE`].
    pub fn seal_handoff(&self, refresh_token: &str) -> String {
        let body =
            serde_json::json!({"refresh": refresh_token, "expires_s": unix_s() + HANDOFF_TTL_S});
        self.seal(HANDOFF_COOKIE, body.to_string().as_bytes())
    }

    /// The refresh token in a [`HANDOFF_COOKIE`] value we sealed, while it is fresh.
    pub fn open_handoff(&self, cookie: &str) -> Option<String> {
        let plain = self.open(HANDOFF_COOKIE, cookie)?;
        let body: serde_json::Value = serde_json::from_slice(&plain).ok()?;
        if body["expires_s"].as_u64()? <= unix_s() {
            return None;
        }
        body["refresh"].as_str().map(str::to_owned)
    }

    /// `nonce ‖ ciphertext`, base64url; the cookie's name is the associated data, so one
    /// cookie cannot be passed off as the other.
    fn seal(&self, name: &str, plain: &[u8]) -> String {
        let nonce: [u8; 24] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: name.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    fn open(&self, name: &str, value: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
        if raw.len() < 24 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(24);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: name.as_bytes(),
                },
            )
            .ok()
    }
}

/// `return_to` when it is a console path: `/console/`, optionally with a `#<page>` of
/// plain characters — never another origin (`//host`, `https:`), never `..` or `\`.
pub fn console_path(return_to: &str) -> Result<&str, FlowError> {
    let Some(rest) = return_to.strip_prefix("/console/") else {
        return Err(FlowError::ReturnTo);
    };
    let page = match rest.strip_prefix('#') {
        Some(page) => page,
        None if rest.is_empty() => "",
        None => return Err(FlowError::ReturnTo),
    };
    let plain = page
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-_.~%".contains(&b));
    if !plain || page.contains("..") || page.contains("//") {
        return Err(FlowError::ReturnTo);
    }
    Ok(return_to)
}

/// Where the callback sends the browser: the console path with `?signin=oidc`, which
/// tells the page to take its session over (`console/api.js`).
pub fn landing(return_to: &str) -> String {
    let page = return_to.strip_prefix("/console/").unwrap_or_default();
    format!("/console/?signin=oidc{page}")
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value for one of our `__Host-` cookies; `max_age_s` 0 clears it.
pub fn set_cookie(name: &str, value: &str, max_age_s: u64) -> String {
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age_s}")
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn unix_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Provider text as it may appear in an answer or a log line: printable ASCII, bounded.
fn printable(text: &str) -> &str {
    let end = text
        .char_indices()
        .find(|(i, c)| *i >= 200 || !(c.is_ascii_graphic() || *c == ' '))
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// `application/x-www-form-urlencoded` of a client id or secret, as HTTP Basic client
/// authentication wants them (RFC 6749 §2.3.1).
fn form_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> CodeFlow {
        let cfg = OidcConfig {
            enabled: true,
            issuer: "https://idp.test".into(),
            audience: "cw".into(),
            jwks_url: "https://idp.test/jwks".into(),
            client_id: "cw-console".into(),
            client_secret: Some("s3cret".into()),
            redirect_uri: format!("https://cw.test{CALLBACK_PATH}"),
            ..OidcConfig::default()
        };
        let verifier = Arc::new(OidcVerifier::new(&cfg).expect("verifier"));
        CodeFlow::new(verifier, b"0123456789abcdef0123456789abcdef").expect("flow")
    }

    #[test]
    fn return_to_is_only_ever_a_console_path() {
        for good in [
            "/console/",
            "/console/#/worklist",
            "/console/#/patient/p-1/alert/01AB",
        ] {
            assert_eq!(console_path(good).ok(), Some(good), "{good}");
        }
        for bad in [
            "https://evil.test/console/",
            "//evil.test/console/",
            "/console//evil.test",
            "/console/#//evil.test",
            "/console/../v1/alerts",
            "/console/#/../x",
            "/console/\\evil.test",
            "/consolex/",
            "/console/#/a b",
            "/console/?x=1",
            "",
        ] {
            assert!(console_path(bad).is_err(), "{bad}");
        }
        assert_eq!(landing("/console/"), "/console/?signin=oidc");
        assert_eq!(
            landing("/console/#/worklist"),
            "/console/?signin=oidc#/worklist"
        );
    }

    #[test]
    fn a_cookie_opens_only_under_its_own_name_and_untampered() {
        let flow = flow();
        let handoff = flow.seal_handoff("refresh-1");
        assert_eq!(flow.open_handoff(&handoff).as_deref(), Some("refresh-1"));
        assert!(
            flow.open(FLOW_COOKIE, &handoff).is_none(),
            "names are bound"
        );
        let mut tampered = handoff.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(flow.open_handoff(&tampered).is_none());
        assert!(flow.open_handoff("not base64 !").is_none());
    }

    #[test]
    fn a_redirect_uri_elsewhere_than_the_callback_or_without_a_secret_is_refused() {
        let base = OidcConfig {
            enabled: true,
            issuer: "https://idp.test".into(),
            audience: "cw".into(),
            jwks_url: "https://idp.test/jwks".into(),
            client_id: "cw-console".into(),
            client_secret: Some("s3cret".into()),
            redirect_uri: format!("https://cw.test{CALLBACK_PATH}"),
            ..OidcConfig::default()
        };
        for bad in [
            OidcConfig {
                redirect_uri: "https://cw.test/elsewhere".into(),
                ..base.clone()
            },
            OidcConfig {
                redirect_uri: format!("http://cw.test{CALLBACK_PATH}"),
                ..base.clone()
            },
            OidcConfig {
                client_secret: None,
                ..base.clone()
            },
            OidcConfig {
                client_secret: Some(" ".into()),
                ..base.clone()
            },
        ] {
            let verifier = Arc::new(OidcVerifier::new(&bad).expect("verifier"));
            assert!(CodeFlow::new(verifier, b"k").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cookie_and_form_helpers() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            "a=1; __Host-cw-oidc-flow=xyz; b=2".parse().expect("header"),
        );
        assert_eq!(cookie(&headers, FLOW_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, HANDOFF_COOKIE), None);
        assert_eq!(form_encode("a b:c/é"), "a+b%3Ac%2F%C3%A9");
        assert_eq!(printable("bad\nline"), "bad");
        assert!(set_cookie(FLOW_COOKIE, "v", 0).contains("Secure; HttpOnly; SameSite=Lax"));
    }
}
