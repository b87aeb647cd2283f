use cw_bus::BusConfig;
use cw_core::secret::{ExposeSecret, SecretBox, SecretString};
use cw_storage::StorageConfig;
use cw_tls::TlsServerConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ApiConfig {
    pub listen: String,
    pub tls: TlsServerConfig,
    /// The admin listener: `/healthz`, `/readyz` and `/metrics`, with `tls`'s certificate
    /// and limits. `/metrics` is served only here, never on `listen` (issue 13 #10):
    /// keep it on loopback or an internal network.
    pub admin_listen: String,
    /// ZeroMQ PUB endpoint for threshold changes (alert-engines connect to it).
    pub config_publish_endpoint: String,
    pub auth: AuthConfig,
    pub storage: StorageConfig,
    pub bus: BusConfig,
    /// Live views: `GET /v1/patients/{id}/live` (bus endpoints, per-socket limits).
    pub live: crate::live::LiveConfig,
    /// Master and lookup keys for PHI at rest; without them PHI endpoints answer 503.
    pub phi: cw_phi::KeyConfig,
    /// An OpenID Connect provider: its bearer tokens besides our own, and with `client_id`
    /// the console's sign-in through it (off by default).
    pub oidc: OidcConfig,
    /// Bounds of `POST /v1/alerts/{id}/snooze`.
    pub snooze: SnoozeConfig,
    /// How refusals of anonymous requests are aggregated in the audit chain.
    pub anonymous_denials: crate::anonymous_denials::AnonymousDenialsConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8444".into(),
            tls: TlsServerConfig {
                cert_path: "certs/server.pem".into(),
                key_path: "certs/server-key.pem".into(),
                insecure_plaintext: false,
                connections: Default::default(),
            },
            admin_listen: "127.0.0.1:9104".into(),
            config_publish_endpoint: "tcp://0.0.0.0:5570".into(),
            auth: AuthConfig::default(),
            storage: StorageConfig::default(),
            bus: BusConfig::default(),
            live: crate::live::LiveConfig::default(),
            phi: cw_phi::KeyConfig::default(),
            oidc: OidcConfig::default(),
            snooze: SnoozeConfig::default(),
            anonymous_denials: Default::default(),
        }
    }
}

/// OIDC bearer validation: a token signed (RS256 / ES256) by a key of the provider's JWKS,
/// with our `issuer` and `audience` and unexpired, authenticates the local user its
/// `user_claim` maps to. Roles and patient assignments stay ours: an identity with no
/// local user is refused, never created.
///
/// With `client_id` set, the console also signs in through the provider: the
/// authorization-code flow with PKCE (`oidc_flow.rs`, docs/security.md, "OIDC sign-in"),
/// which ends in a session of ours like a password login.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    pub enabled: bool,
    /// The provider's name on the console's button ("Sign in with <name>").
    pub name: String,
    /// Exact `iss` of the provider's tokens.
    pub issuer: String,
    /// The `aud` our tokens must carry (the client id registered for cardiowatch).
    pub audience: String,
    /// Where the provider publishes its signing keys (`jwks_uri` of its discovery
    /// document). HTTPS unless `allow_http` (local tests only).
    pub jwks_url: String,
    pub allow_http: bool,
    /// PEM CA bundle for a provider whose certificate a private CA issued.
    pub ca_file: Option<PathBuf>,
    /// Signature algorithms accepted: `RS256`, `ES256` (never HMAC: the keys are public).
    pub algorithms: Vec<String>,
    /// The claim naming the person: `sub` (default) or `email` (must not be
    /// `email_verified: false`).
    pub user_claim: String,
    /// Claim value → local user id; a value not listed must itself be a local user id.
    pub users: std::collections::BTreeMap<String, String>,
    /// The fetched key set is used this long, then fetched again.
    pub jwks_ttl_s: u64,
    /// A token with an unknown key id fetches the key set again, at most this often (so
    /// forged key ids cannot make us hammer the provider).
    pub jwks_min_refetch_s: u64,
    /// Clock skew allowed on `exp` / `nbf`.
    pub leeway_s: u64,
    pub http_timeout_ms: u64,
    /// The client id cardiowatch is registered under for the console's sign-in (the ID
    /// token's `aud`); empty: no sign-in through the provider, bearer tokens only. The
    /// authorization and token endpoints come from `<issuer>/.well-known/openid-configuration`.
    pub client_id: String,
    /// The client secret (`CW_OIDC__CLIENT_SECRET`) or a file holding it; sent to the
    /// token endpoint only (HTTP Basic), never logged.
    // Serialised only for docs/config.md's defaults: a secret is never written out.
    #[serde(skip_serializing)]
    pub client_secret: Option<SecretString>,
    pub client_secret_file: Option<PathBuf>,
    /// Our callback as registered at the provider:
    /// `https://<the api's public host>/v1/auth/oidc/callback`.
    pub redirect_uri: String,
    /// Scopes asked for at sign-in (`openid` always; `email` for `user_claim = "email"`).
    pub scopes: Vec<String>,
    /// How long a started sign-in may take to come back (the `state`'s lifetime).
    pub flow_ttl_s: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            name: "your organisation".into(),
            issuer: String::new(),
            audience: String::new(),
            jwks_url: String::new(),
            allow_http: false,
            ca_file: None,
            algorithms: vec!["RS256".into(), "ES256".into()],
            user_claim: "sub".into(),
            users: Default::default(),
            jwks_ttl_s: 3600,
            jwks_min_refetch_s: 30,
            leeway_s: 30,
            http_timeout_ms: 5000,
            client_id: String::new(),
            client_secret: None,
            client_secret_file: None,
            redirect_uri: String::new(),
            scopes: vec!["openid".into(), "email".into()],
            flow_ttl_s: 600,
        }
    }
}

impl OidcConfig {
    /// The client secret, from the config (env) or `client_secret_file`.
    pub fn client_secret(&self) -> anyhow::Result<SecretString> {
        match (&self.client_secret, &self.client_secret_file) {
            (Some(secret), _) => Ok(secret.clone()),
            (None, Some(path)) => Ok(std::fs::read_to_string(path)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot read oidc.client_secret_file {}: {e}",
                        path.display()
                    )
                })?
                .trim()
                .into()),
            (None, None) => anyhow::bail!(
                "oidc.client_id is set but no client secret: set CW_OIDC__CLIENT_SECRET or oidc.client_secret_file"
            ),
        }
    }
}

/// How long a doctor may snooze an alert, per priority. A silence always ends; high
/// priority cannot be snoozed at all (acknowledge it instead).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnoozeConfig {
    pub min_s: u64,
    pub max_medium_s: u64,
    pub max_low_s: u64,
}

impl Default for SnoozeConfig {
    fn default() -> Self {
        Self {
            min_s: 60,
            max_medium_s: 30 * 60,
            max_low_s: 4 * 3600,
        }
    }
}

/// JWT settings. The secret comes from the environment (`CW_AUTH__JWT_SECRET`) or a file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    // Serialised only for docs/config.md's defaults: a secret is never written out.
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    pub jwt_secret_file: Option<PathBuf>,
    pub issuer: String,
    /// How long a break-glass grant lasts.
    pub break_glass_ttl_s: u64,
    /// Failed logins in a row that lock an account, and for how long.
    pub max_failures: u32,
    pub lockout_s: u64,
    /// Login attempts per source address per minute (per api replica).
    pub login_per_minute: u32,
    /// Lifetime of a refresh token (each use replaces it).
    pub refresh_ttl_s: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_secret_file: None,
            issuer: "cardiowatch".into(),
            break_glass_ttl_s: 3600,
            max_failures: 5,
            lockout_s: 15 * 60,
            login_per_minute: 20,
            refresh_ttl_s: 12 * 3600,
        }
    }
}

impl AuthConfig {
    /// The signing secret; at least 32 bytes so HS256 is not brute-forceable.
    pub fn secret(&self) -> anyhow::Result<SecretBox<[u8]>> {
        let secret: SecretString = match (&self.jwt_secret, &self.jwt_secret_file) {
            (Some(secret), _) => secret.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    anyhow::anyhow!("cannot read auth.jwt_secret_file {}: {e}", path.display())
                })?
                .trim()
                .into(),
            (None, None) => {
                anyhow::bail!("no JWT secret: set CW_AUTH__JWT_SECRET or auth.jwt_secret_file")
            }
        };
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < 32 {
            anyhow::bail!("the JWT secret must be at least 32 bytes");
        }
        Ok(SecretBox::new(Box::from(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_the_config_shows_no_secret() {
        let jwt = "jwt-secret-jwt-secret-jwt-secret-0001";
        let master = "11".repeat(32);
        let lookup = "22".repeat(32);
        let cfg = ApiConfig {
            auth: AuthConfig {
                jwt_secret: Some(jwt.into()),
                ..AuthConfig::default()
            },
            phi: cw_phi::KeyConfig {
                key_id: "k1".into(),
                master_key_hex: Some(master.clone().into()),
                lookup_key_hex: Some(lookup.clone().into()),
                previous_keys: vec![format!("k0:{}", "33".repeat(32)).into()],
                ..Default::default()
            },
            ..ApiConfig::default()
        };
        let shown = format!("{cfg:?}");
        for secret in [jwt.to_owned(), master, lookup, "33".repeat(32)] {
            assert!(!shown.contains(&secret), "Debug shows a secret");
        }
        assert!(shown.contains("REDACTED"));
    }
}
