//! OIDC bearer validation: RS256 / ES256 tokens from the configured provider, checked
//! against its JWKS. The key set is cached; a key id we do not know fetches it again (so
//! a rotation is picked up), at most once per `jwks_min_refetch_s`, so tokens with
//! invented key ids cannot make us hammer the provider.

use crate::config::OidcConfig;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The claims we read from a provider's token (`iss`, `aud`, `exp` are checked by
/// `jsonwebtoken` before these are seen).
#[derive(Debug, Clone, Deserialize)]
pub struct OidcClaims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// An ID token's answer to the `nonce` of its sign-in (`oidc_flow.rs`).
    #[serde(default)]
    pub nonce: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(Algorithm),
    #[error("token has no key id")]
    NoKeyId,
    #[error("key id is not in the provider's key set")]
    UnknownKey,
    #[error("the provider's key set could not be fetched: {0}")]
    Jwks(String),
    #[error("token rejected: {0}")]
    Invalid(String),
}

struct CachedKeys {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    fetched_at: Option<Instant>,
    /// Last fetch attempt, successful or not: bounds refetches.
    tried_at: Option<Instant>,
}

pub struct OidcVerifier {
    cfg: OidcConfig,
    algorithms: Vec<Algorithm>,
    http: reqwest::Client,
    cache: RwLock<CachedKeys>,
    /// One fetch at a time; callers waiting on it then read the fresh cache.
    fetching: tokio::sync::Mutex<()>,
}

impl OidcVerifier {
    /// Checks the configuration; fetching waits for the first token.
    pub fn new(cfg: &OidcConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(!cfg.issuer.is_empty(), "oidc.issuer is required");
        anyhow::ensure!(!cfg.audience.is_empty(), "oidc.audience is required");
        anyhow::ensure!(
            cfg.jwks_url.starts_with("https://")
                || (cfg.allow_http && cfg.jwks_url.starts_with("http://")),
            "oidc.jwks_url must be an https:// URL (http only with oidc.allow_http, for tests)"
        );
        anyhow::ensure!(
            matches!(cfg.user_claim.as_str(), "sub" | "email"),
            "oidc.user_claim is sub or email"
        );
        let algorithms = cfg
            .algorithms
            .iter()
            .map(|a| match a.as_str() {
                "RS256" => Ok(Algorithm::RS256),
                "ES256" => Ok(Algorithm::ES256),
                other => Err(anyhow::anyhow!(
                    "oidc.algorithms: {other} is not accepted (RS256, ES256)"
                )),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!algorithms.is_empty(), "oidc.algorithms is empty");
        let mut http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.http_timeout_ms))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &cfg.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("cannot read oidc.ca_file {}: {e}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)? {
                http = http.add_root_certificate(cert);
            }
        }
        Ok(Self {
            cfg: cfg.clone(),
            algorithms,
            http: http.build()?,
            cache: RwLock::new(CachedKeys {
                keys: HashMap::new(),
                fetched_at: None,
                tried_at: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.cfg
    }

    /// Whether a token's header says it is for us to check (an accepted asymmetric
    /// algorithm); our own tokens are HS256.
    pub fn claims_algorithm(&self, token: &str) -> bool {
        jsonwebtoken::decode_header(token).is_ok_and(|h| self.algorithms.contains(&h.alg))
    }

    /// The client that fetches the provider's documents (timeout, `ca_file`, no redirects).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Signature by a key of the provider's set, algorithm, issuer, audience, expiry.
    pub async fn verify(&self, token: &str) -> Result<OidcClaims, OidcError> {
        self.verify_for(token, &self.cfg.audience).await
    }

    /// An ID token of the console's sign-in: as [`Self::verify`], for our `client_id`,
    /// and carrying the `nonce` that sign-in sent (so a token minted for another
    /// sign-in cannot be played into this one).
    pub async fn verify_id_token(&self, token: &str, nonce: &str) -> Result<OidcClaims, OidcError> {
        let claims = self.verify_for(token, &self.cfg.client_id).await?;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(OidcError::Invalid("the nonce is not this sign-in's".into()));
        }
        Ok(claims)
    }

    async fn verify_for(&self, token: &str, audience: &str) -> Result<OidcClaims, OidcError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| OidcError::Malformed(e.to_string()))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(OidcError::Algorithm(header.alg));
        }
        let kid = header.kid.ok_or(OidcError::NoKeyId)?;
        let key = self.key(&kid).await?;
        let (alg, key) = key;
        // The key's own algorithm wins: a token cannot pick another one for it.
        if alg != header.alg {
            return Err(OidcError::Algorithm(header.alg));
        }
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.cfg.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.cfg.leeway_s;
        jsonwebtoken::decode::<OidcClaims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| OidcError::Invalid(e.to_string()))
    }

    /// The key for `kid`: from the cache while it is fresh, else after fetching the set.
    async fn key(&self, kid: &str) -> Result<(Algorithm, DecodingKey), OidcError> {
        if let Some(found) = self.cached(kid, true) {
            return Ok(found);
        }
        let _one = self.fetching.lock().await;
        // Another caller may have fetched while we waited.
        if let Some(found) = self.cached(kid, true) {
            return Ok(found);
        }
        let min_gap = Duration::from_secs(self.cfg.jwks_min_refetch_s);
        let may_fetch = self
            .read_cache()
            .tried_at
            .is_none_or(|at| at.elapsed() >= min_gap);
        if may_fetch {
            match self.fetch().await {
                Ok(keys) => {
                    let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
                    cache.keys = keys;
                    cache.fetched_at = Some(Instant::now());
                    cache.tried_at = cache.fetched_at;
                }
                Err(e) => {
                    self.cache
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .tried_at = Some(Instant::now());
                    tracing::warn!(error = %e, "OIDC key set fetch failed");
                    // A stale key still proves the signature; the provider being down
                    // must not log everyone out.
                    return self.cached(kid, false).ok_or(e);
                }
            }
        }
        self.cached(kid, false).ok_or(OidcError::UnknownKey)
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, CachedKeys> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn cached(&self, kid: &str, fresh_only: bool) -> Option<(Algorithm, DecodingKey)> {
        let cache = self.read_cache();
        let ttl = Duration::from_secs(self.cfg.jwks_ttl_s);
        if fresh_only && cache.fetched_at.is_none_or(|at| at.elapsed() >= ttl) {
            return None;
        }
        cache.keys.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, (Algorithm, DecodingKey)>, OidcError> {
        let fail = |e: reqwest::Error| OidcError::Jwks(e.without_url().to_string());
        let set: JwkSet = self
            .http
            .get(&self.cfg.jwks_url)
            .send()
            .await
            .map_err(fail)?
            .error_for_status()
            .map_err(fail)?
            .json()
            .await
            .map_err(fail)?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            // Only signing keys of an accepted family; an HMAC ("oct") key in a public
            // set would let anyone who read it sign tokens.
            let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
                (AlgorithmParameters::RSA(_), None) => Algorithm::RS256,
                (AlgorithmParameters::EllipticCurve(_), None) => Algorithm::ES256,
                (AlgorithmParameters::RSA(_) | AlgorithmParameters::EllipticCurve(_), Some(a)) => {
                    match a.to_string().parse::<Algorithm>() {
                        Ok(alg) => alg,
                        Err(_) => continue,
                    }
                }
                _ => continue,
            };
            if !self.algorithms.contains(&alg)
                || jwk
                    .common
                    .public_key_use
                    .as_ref()
                    .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
            {
                continue;
            }
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, (alg, key));
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable OIDC key"),
            }
        }
        tracing::info!(keys = keys.len(), "OIDC key set fetched");
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> OidcConfig {
        OidcConfig {
            enabled: true,
            issuer: "https://idp.test".into(),
            audience: "cw".into(),
            jwks_url: "https://idp.test/jwks".into(),
            ..OidcConfig::default()
        }
    }

    #[test]
    fn a_plain_http_key_set_needs_allow_http() {
        let http = OidcConfig {
            jwks_url: "http://idp.test/jwks".into(),
            ..cfg()
        };
        assert!(OidcVerifier::new(&http).is_err());
        assert!(
            OidcVerifier::new(&OidcConfig {
                allow_http: true,
                ..http
            })
            .is_ok()
        );
    }

    #[test]
    fn hmac_algorithms_and_missing_issuer_or_audience_are_refused() {
        for bad in [
            OidcConfig {
                algorithms: vec!["HS256".into()],
                ..cfg()
            },
            OidcConfig {
                issuer: String::new(),
                ..cfg()
            },
            OidcConfig {
                audience: String::new(),
                ..cfg()
            },
            OidcConfig {
                user_claim: "name".into(),
                ..cfg()
            },
        ] {
            assert!(OidcVerifier::new(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn our_own_hs256_tokens_are_not_taken_for_provider_tokens() {
        let verifier = OidcVerifier::new(&cfg()).expect("valid config");
        let user = cw_core::UserId::parse("dr-1").expect("id");
        let ours = crate::token::issue(
            b"0123456789abcdef0123456789abcdef",
            "cw",
            &user,
            cw_core::Role::Doctor,
            60,
        )
        .expect("token");
        assert!(!verifier.claims_algorithm(&ours));
    }
}
