//! OIDC bearer validation against a real JWKS the test serves over HTTP with RSA keys it
//! generates: a valid provider token is accepted and acts as the mapped local user (role
//! and assignments ours); wrong issuer, wrong audience, expired, unknown key id, bad
//! signature and identities without a local account are refused with JSON errors (by
//! subject, or by a verified email through `[oidc.users]`); a
//! rotated key set (new kid) is picked up, unknown key ids refetch only boundedly, and a
//! key set served over HTTPS by a private CA is trusted only through `ca_file`.

use cw_core::time::now_ns;
use cw_core::{Role, User, UserId};
use cw_e2e::api::ApiHarness;
use cw_e2e::env::free_port;
use cw_e2e::system::Mode;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) const ISSUER: &str = "https://idp.hospital.test/realms/cw";
pub(crate) const AUDIENCE: &str = "cardiowatch-api";

/// A JWKS endpoint: serves whatever key set it holds now, counting fetches.
pub(crate) struct JwksServer {
    pub(crate) url: String,
    set: Arc<Mutex<JwkSet>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub(crate) async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Over HTTPS with the certificate in `certs` (a private CA, as many hospitals use).
    async fn start_https(certs: &cw_tls::DevCerts) -> Self {
        let tls = cw_tls::server_config(&cw_tls::TlsServerConfig {
            cert_path: certs.server_cert.clone(),
            key_path: certs.server_key.clone(),
            insecure_plaintext: false,
            connections: Default::default(),
        })
        .expect("TLS config");
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(tls))).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let tls_used = tls.is_some();
        let port = free_port();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("JWKS listener");
        let set = Arc::new(Mutex::new(JwkSet { keys: vec![] }));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (set.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let body = serde_json::to_vec(&*served.lock().expect("set")).expect("json");
                counted.fetch_add(1, Ordering::SeqCst);
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => answer(conn, body).await,
                        Some(tls) => {
                            if let Ok(conn) = tls.accept(conn).await {
                                answer(conn, body).await;
                            }
                        }
                    }
                });
            }
        });
        let scheme = if tls_used { "https" } else { "http" };
        Self {
            url: format!("{scheme}://127.0.0.1:{port}/jwks"),
            set,
            fetches,
        }
    }

    pub(crate) fn publish(&self, keys: &[&Key]) {
        self.set.lock().expect("set").keys = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP request and answers it with `body` as JSON.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut conn: S,
    body: Vec<u8>,
) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes()).await;
    let _ = conn.write_all(&body).await;
    let _ = conn.shutdown().await;
}

/// An RSA signing key made for this test, with its public JWK.
pub(crate) struct Key {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
}

fn rsa_key(kid: &str) -> Key {
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
    let pem = private
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .expect("PEM");
    let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("encoding key");
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("JWK");
    jwk.common.key_id = Some(kid.into());
    Key {
        kid: kid.into(),
        alg: Algorithm::RS256,
        encoding,
        jwk,
    }
}

/// A P-256 signing key (ES256), the other family providers use.
pub(crate) fn ec_key(kid: &str) -> Key {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
    let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("EC PEM");
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).expect("JWK");
    jwk.common.key_id = Some(kid.into());
    Key {
        kid: kid.into(),
        alg: Algorithm::ES256,
        encoding,
        jwk,
    }
}

pub(crate) fn sign(key: &Key, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("signs")
}

pub(crate) fn claims(sub: &str) -> Value {
    let now = now_ns() / 1_000_000_000;
    // A provider-side "role" claim must not matter: roles are ours.
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300, "role": "admin"})
}

async fn get(h: &ApiHarness, path: &str, token: &str) -> (u16, Value) {
    let response = h
        .http
        .get(h.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn oidc_tokens_are_checked_against_the_providers_jwks_and_map_to_local_users() {
    let jwks = JwksServer::start().await;
    let (k1, k2, forger) = (rsa_key("k1"), rsa_key("k2"), rsa_key("k1"));
    jwks.publish(&[&k1]);
    let url = jwks.url.clone();
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| {
        cfg.oidc.enabled = true;
        cfg.oidc.issuer = ISSUER.into();
        cfg.oidc.audience = AUDIENCE.into();
        cfg.oidc.jwks_url = url;
        cfg.oidc.allow_http = true;
        cfg.oidc.jwks_min_refetch_s = 1;
        cfg.oidc
            .users
            .insert("f81d4fae-7dec-11d0-a765@idp".into(), "dr-mapped".into());
    })
    .await;
    for (id, role) in [
        (h.doctor_a.clone(), Role::Doctor),
        (UserId::parse("dr-mapped").expect("id"), Role::Doctor),
    ] {
        h.put_user(&id, role).await;
    }
    let own = format!("/v1/alerts?patient={}", h.own);
    let other = format!("/v1/alerts?patient={}", h.other);

    let valid = sign(&k1, "k1", &claims(h.doctor_a.as_str()));
    let (status, body) = get(&h, &own, &valid).await;
    assert_eq!(status, 200, "a valid provider token is accepted: {body}");
    assert_eq!(jwks.fetches(), 1, "the key set was fetched once");
    let (status, _) = get(&h, &own, &valid).await;
    assert_eq!(status, 200);
    assert_eq!(jwks.fetches(), 1, "the key set is cached");
    let (status, _) = get(&h, &other, &valid).await;
    assert_eq!(
        status, 403,
        "assignments are ours: a provider 'role: admin' claim grants nothing"
    );
    // A disabled account is refused though the provider still vouches for it.
    let admin = h.token(&h.admin, Role::Admin);
    for (action, body) in [
        ("disable", json!({"reason": "left the hospital"})),
        ("enable", json!({})),
    ] {
        let response = h
            .http
            .post(h.url(&format!("/v1/users/{}/{action}", h.doctor_a)))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{action}");
        if action == "disable" {
            let (status, body) = get(&h, &own, &valid).await;
            assert_eq!(status, 403, "OIDC sign-in of a disabled account: {body}");
            assert_eq!(body["error"]["code"], "account_disabled");
        }
    }
    assert_eq!(get(&h, &own, &valid).await.0, 200, "enabled again");

    let mut wrong_issuer = claims(h.doctor_a.as_str());
    wrong_issuer["iss"] = json!("https://evil.test");
    let mut wrong_audience = claims(h.doctor_a.as_str());
    wrong_audience["aud"] = json!("another-app");
    let mut expired = claims(h.doctor_a.as_str());
    let then = now_ns() / 1_000_000_000 - 600;
    expired["iat"] = json!(then);
    expired["exp"] = json!(then + 300);
    let refused = [
        ("wrong issuer", sign(&k1, "k1", &wrong_issuer)),
        ("wrong audience", sign(&k1, "k1", &wrong_audience)),
        ("expired", sign(&k1, "k1", &expired)),
        (
            "bad signature",
            sign(&forger, "k1", &claims(h.doctor_a.as_str())),
        ),
        (
            "unknown kid",
            sign(&k1, "no-such-key", &claims(h.doctor_a.as_str())),
        ),
    ];
    for (what, token) in &refused {
        let (status, body) = get(&h, &own, token).await;
        assert_eq!(status, 401, "{what} is refused: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
    }

    let (status, body) = get(&h, &own, &sign(&k1, "k1", &claims("stranger-1"))).await;
    assert_eq!(status, 401, "no implicit account: {body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("no cardiowatch account"), "{message}");
    let mapped = sign(&k1, "k1", &claims("f81d4fae-7dec-11d0-a765@idp"));
    let (status, body) = get(&h, "/v1/alerts", &mapped).await;
    assert_eq!(
        status, 200,
        "a subject mapped in [oidc.users] is that user: {body}"
    );

    // Rotation: the provider starts signing with k2; the first k2 token refetches.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    jwks.publish(&[&k1, &k2]);
    let before = jwks.fetches();
    let rotated = sign(&k2, &k2.kid, &claims(h.doctor_a.as_str()));
    let (status, body) = get(&h, &own, &rotated).await;
    assert_eq!(status, 200, "a rotated key is picked up: {body}");
    assert_eq!(jwks.fetches(), before + 1);
    // Invented key ids right after: refused, and at most one more fetch per second.
    for n in 0..5 {
        let token = sign(&k1, &format!("invented-{n}"), &claims(h.doctor_a.as_str()));
        assert_eq!(get(&h, &own, &token).await.0, 401);
    }
    assert!(
        jwks.fetches() <= before + 2,
        "unknown key ids refetch boundedly ({} fetches)",
        jwks.fetches() - before
    );

    // ES256 keys work too; a token cannot claim another algorithm than its key's.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let ec = ec_key("e1");
    jwks.publish(&[&k1, &k2, &ec]);
    let es256 = sign(&ec, "e1", &claims(h.doctor_a.as_str()));
    let (status, body) = get(&h, &own, &es256).await;
    assert_eq!(status, 200, "an ES256 token is accepted: {body}");
    let confused = sign(&k1, "e1", &claims(h.doctor_a.as_str()));
    assert_eq!(
        get(&h, &own, &confused).await.0,
        401,
        "an RS256 signature under the EC key's id is refused"
    );

    // Our own tokens keep working beside the provider's (one of the current session:
    // the disable above ended the older ones).
    let local = h.current_token(&h.doctor_a, Role::Doctor).await;
    assert_eq!(get(&h, &own, &local).await.0, 200);

    // The audit chain names the local user the OIDC identity mapped to.
    let events = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    assert!(
        events
            .iter()
            .any(|e| e.entry.actor == "dr-mapped" && e.entry.status == 200),
        "OIDC requests are audited under the local user"
    );
}

/// An api that maps OIDC identities by `email` (alice@hospital.example is dr-alice, a
/// doctor with that email on record), with the JWKS serving key `e1`. The JWKS server is
/// returned so it outlives the test.
pub(crate) async fn email_mapped_api() -> (JwksServer, Key, ApiHarness) {
    let jwks = JwksServer::start().await;
    let key = ec_key("e1");
    jwks.publish(&[&key]);
    let url = jwks.url.clone();
    let h = ApiHarness::start_with(Mode::Embedded, |cfg| {
        cfg.oidc.enabled = true;
        cfg.oidc.issuer = ISSUER.into();
        cfg.oidc.audience = AUDIENCE.into();
        cfg.oidc.jwks_url = url;
        cfg.oidc.allow_http = true;
        cfg.oidc.user_claim = "email".into();
        cfg.oidc
            .users
            .insert("alice@hospital.example".into(), "dr-alice".into());
    })
    .await;
    h.stores
        .records
        .put_user(&User {
            id: UserId::parse("dr-alice").expect("id"),
            role: Role::Doctor,
            phone: None,
            email: Some("alice@hospital.example".into()),
            notify: Default::default(),
            disabled: None,
            sessions: Default::default(),
        })
        .await
        .expect("user");
    (jwks, key, h)
}

#[tokio::test]
async fn with_user_claim_email_a_verified_mapped_email_is_the_local_user() {
    let (_jwks, key, h) = email_mapped_api().await;
    let with_email = |email: Option<&str>, verified: Option<bool>| {
        let mut c = claims("an-opaque-subject");
        if let Some(email) = email {
            c["email"] = json!(email);
        }
        if let Some(verified) = verified {
            c["email_verified"] = json!(verified);
        }
        sign(&key, "e1", &c)
    };
    let alice = Some("alice@hospital.example");
    let (status, body) = get(&h, "/v1/alerts", &with_email(alice, Some(true))).await;
    assert_eq!(
        status, 200,
        "the mapped, verified email is dr-alice: {body}"
    );
    let (status, body) = get(
        &h,
        &format!("/v1/alerts?patient={}", h.own),
        &with_email(alice, Some(true)),
    )
    .await;
    assert_eq!(status, 403, "dr-alice is assigned no patient: {body}");
    for (what, token) in [
        ("unverified email", with_email(alice, Some(false))),
        ("no email claim", with_email(None, None)),
        (
            "unmapped email",
            with_email(Some("mallory@evil.test"), Some(true)),
        ),
    ] {
        let (status, body) = get(&h, "/v1/alerts", &token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}");
    }
}

#[tokio::test]
async fn an_https_key_set_behind_a_private_ca_needs_that_ca_in_ca_file() {
    cw_tls::install_default_crypto();
    let pki = tempfile::tempdir().expect("temp dir");
    let certs = cw_tls::ensure_dev_certs(pki.path()).expect("a private CA and its server");
    let jwks = JwksServer::start_https(&certs).await;
    assert!(jwks.url.starts_with("https://"));
    let key = ec_key("e1");
    jwks.publish(&[&key]);
    for trusted in [true, false] {
        let (url, ca) = (jwks.url.clone(), certs.ca_cert.clone());
        let h = ApiHarness::start_with(Mode::Embedded, |cfg| {
            cfg.oidc.enabled = true;
            cfg.oidc.issuer = ISSUER.into();
            cfg.oidc.audience = AUDIENCE.into();
            cfg.oidc.jwks_url = url;
            cfg.oidc.ca_file = trusted.then_some(ca);
        })
        .await;
        h.put_user(&h.doctor_a, Role::Doctor).await;
        let token = sign(&key, "e1", &claims(h.doctor_a.as_str()));
        let (status, body) = get(&h, &format!("/v1/alerts?patient={}", h.own), &token).await;
        if trusted {
            assert_eq!(status, 200, "the key set is fetched over TLS: {body}");
        } else {
            assert_eq!(
                status, 401,
                "an untrusted key-set server is no key set: {body}"
            );
        }
    }
}
