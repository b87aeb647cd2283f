//! The console's sign-in through a real OpenID provider (issue 16 item 2): panva's
//! `oidc-provider` under node (`cw_e2e::idp`), driven by an HTTP client that behaves as
//! a browser — it keeps each origin's cookies, follows redirects and posts the
//! provider's login form. On both backends: the whole dance ends with our own access
//! and refresh tokens, which read `GET /v1/alerts` and rotate; a wrong state, a replayed
//! state, an authorization request without PKCE, a callback in another browser and an
//! identity with no local account each send the browser to the console's sign-in page
//! with a code naming why (and no session), a `return_to` to another origin is refused
//! with a clear JSON error, and the audit chain names the user who signed in and keeps
//! each refusal as one.

use cw_core::Role;
use cw_e2e::api::ApiHarness;
use cw_e2e::env::free_port;
use cw_e2e::idp::Idp;
use cw_e2e::system::Mode;
use reqwest::Url;
use serde_json::Value;
use std::collections::HashMap;

/// A browser's share of HTTP: cookies per origin (`host:port`), manual redirects.
struct Agent {
    http: reqwest::Client,
    jar: HashMap<String, HashMap<String, String>>,
}

#[derive(Debug)]
struct Answer {
    url: Url,
    status: u16,
    location: Option<Url>,
    body: String,
}

impl Agent {
    fn new(h: &ApiHarness) -> Agent {
        let certs = cw_tls::ensure_dev_certs(&h.dir.path().join("certs")).expect("dev certs");
        let ca = std::fs::read(&certs.ca_cert).expect("CA");
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Agent {
            http,
            jar: HashMap::new(),
        }
    }

    fn origin(url: &Url) -> String {
        format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        )
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let cookies = self.jar.get(&Self::origin(url))?;
        (!cookies.is_empty()).then(|| {
            cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// One request; keeps the cookies it sets (`Max-Age=0` removes one).
    async fn send(
        &mut self,
        method: reqwest::Method,
        url: &Url,
        form: Option<&[(&str, &str)]>,
    ) -> Answer {
        let mut request = self.http.request(method.clone(), url.clone());
        if let Some(cookies) = self.cookie_header(url) {
            request = request.header(reqwest::header::COOKIE, cookies);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let jar = self.jar.entry(Self::origin(url)).or_default();
        for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let set = set.to_str().expect("ascii cookie");
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attributes.contains("Max-Age=0") || attributes.contains("expires=Thu, 01 Jan 1970") {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|l| url.join(l).expect("a location"));
        Answer {
            url: url.clone(),
            status,
            location,
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// Follows redirects from `url` until one would go to `stop` (returned, unvisited)
    /// or a page answers (returned as the last answer's URL).
    async fn follow(&mut self, url: &Url, stop: &str) -> Result<Url, Answer> {
        let mut at = url.clone();
        for _ in 0..10 {
            if at.as_str().starts_with(stop) {
                return Ok(at);
            }
            let answer = self.send(reqwest::Method::GET, &at, None).await;
            match (&answer.location, answer.status) {
                (Some(next), 300..=399) => at = next.clone(),
                _ => return Err(answer),
            }
        }
        panic!("more than 10 redirects from {url}");
    }

    /// From our start route to the provider's login page, posts `login`'s form there, and
    /// follows on to our callback: its URL, not yet visited.
    async fn through_provider(&mut self, start: &Url, callback: &str, login: &str) -> Url {
        let page = match self.follow(start, callback).await {
            Err(page) => page,
            Ok(url) => panic!("the provider skipped its login page: {url}"),
        };
        assert_eq!(page.status, 200, "the provider's login page: {}", page.body);
        let action = page
            .body
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no form on the provider's page: {}", page.body));
        assert!(page.body.contains("name=\"login\""), "{}", page.body);
        let action = page.url.join(action).expect("form action");
        let posted = self
            .send(
                reqwest::Method::POST,
                &action,
                Some(&[("prompt", "login"), ("login", login), ("password", "any")]),
            )
            .await;
        let next = posted.location.unwrap_or_else(|| {
            panic!("the login form answered {}: {}", posted.status, posted.body)
        });
        self.follow(&next, callback).await.unwrap_or_else(|a| {
            panic!(
                "the provider stopped at {} ({}): {}",
                a.url, a.status, a.body
            )
        })
    }
}

/// The code a refused callback sends the browser to the console's sign-in page with
/// (`/console/?signin_error=<code>`), having begun no session in `agent`.
fn refusal_of(agent: &Agent, answer: &Answer) -> String {
    assert_eq!(answer.status, 303, "{answer:?}");
    let to = answer.location.as_ref().expect("a location");
    assert_eq!(to.path(), "/console/", "{to}");
    assert!(
        agent
            .jar
            .values()
            .all(|cookies| !cookies.contains_key("__Host-cw-oidc-session")),
        "a refused sign-in begins no session"
    );
    to.query_pairs()
        .find(|(k, _)| k == "signin_error")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no signin_error in {to}"))
}

async fn signs_in_through_a_real_provider(mode: Mode) {
    let port = free_port();
    let base = format!("https://127.0.0.1:{port}");
    let callback = format!("{base}/v1/auth/oidc/callback");
    let idp = Idp::start(&callback);
    let h = ApiHarness::start_with(mode, |cfg| {
        cfg.listen = format!("127.0.0.1:{port}");
        idp.configure(cfg, &callback);
        // Every anonymous refusal its own record, so the refused callbacks can be found.
        cfg.anonymous_denials.window_s = 0;
    })
    .await;
    assert_eq!(h.url(""), base);
    h.put_user(&h.doctor_a, Role::Doctor).await;

    // The page learns it may offer the provider.
    let options: Value = h
        .http
        .get(h.url("/v1/auth/config"))
        .send()
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    assert_eq!(options["oidc"]["name"], "Hospital IdP", "{options}");
    let start =
        Url::parse(&h.url("/v1/auth/oidc/start?return_to=/console/%23/worklist")).expect("url");

    // The whole dance: our start → the provider's login form → our callback → the console.
    let mut browser = Agent::new(&h);
    let at_callback = browser
        .through_provider(&start, &callback, h.doctor_a.as_str())
        .await;
    let query: HashMap<String, String> = at_callback.query_pairs().into_owned().collect();
    assert!(
        query.contains_key("code") && query.contains_key("state"),
        "{at_callback}"
    );
    let flow_cookie = browser
        .cookie_header(&at_callback)
        .expect("the sign-in cookie");
    let landed = browser.send(reqwest::Method::GET, &at_callback, None).await;
    assert_eq!(landed.status, 303, "the callback signs in: {}", landed.body);
    let landing = landed.location.expect("where to");
    assert_eq!(
        landing.as_str(),
        format!("{base}/console/?signin=oidc#/worklist")
    );
    let session_url = Url::parse(&h.url("/v1/auth/oidc/session")).expect("url");
    let taken = browser
        .send(reqwest::Method::POST, &session_url, None)
        .await;
    assert_eq!(
        taken.status, 200,
        "the page takes the session over: {}",
        taken.body
    );
    let tokens: Value = serde_json::from_str(&taken.body).expect("tokens");
    let access = tokens["access_token"].as_str().expect("access token");
    let claims = cw_api::token::verify(h.secret.as_bytes(), "cardiowatch", access)
        .expect("one of our own access tokens");
    assert_eq!(claims.sub, h.doctor_a.as_str());
    let alerts = h
        .get_ok(access, format!("/v1/alerts?patient={}", h.own))
        .await;
    assert!(!alerts.as_array().expect("list").is_empty(), "{alerts}");
    // The session rotates like a password login's.
    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    let rotated = h
        .http
        .post(h.url("/v1/auth/refresh"))
        .json(&serde_json::json!({"refresh_token": refresh}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(rotated.status(), 200, "an OIDC session refreshes");
    // Taken over once: the cookie is gone, and a kept copy is a spent refresh token.
    let again = browser
        .send(reqwest::Method::POST, &session_url, None)
        .await;
    assert_eq!(again.status, 401, "{}", again.body);

    // The replayed callback (same browser, its sign-in cookie kept by an attacker).
    let mut replayer = Agent::new(&h);
    replayer
        .jar
        .entry(Agent::origin(&at_callback))
        .or_default()
        .extend(
            flow_cookie
                .split("; ")
                .filter_map(|c| c.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned()))),
        );
    let replayed = replayer
        .send(reqwest::Method::GET, &at_callback, None)
        .await;
    assert_eq!(refusal_of(&replayer, &replayed), "replayed");

    // A wrong state.
    let mut browser = Agent::new(&h);
    let at_callback = browser
        .through_provider(&start, &callback, h.doctor_a.as_str())
        .await;
    let mut wrong = at_callback.clone();
    let pairs: Vec<(String, String)> = at_callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    wrong.query_pairs_mut().clear().extend_pairs(pairs);
    let refused = browser.send(reqwest::Method::GET, &wrong, None).await;
    assert_eq!(refusal_of(&browser, &refused), "state");

    // The right callback in another browser (no sign-in cookie): refused.
    let mut elsewhere = Agent::new(&h);
    let refused = elsewhere
        .send(reqwest::Method::GET, &at_callback, None)
        .await;
    assert_eq!(refusal_of(&elsewhere, &refused), "no_flow");

    // An authorization request stripped of PKCE: the provider refuses, and so do we.
    let mut browser = Agent::new(&h);
    let to_provider = browser.send(reqwest::Method::GET, &start, None).await;
    let authorize = to_provider.location.expect("to the provider");
    assert!(authorize.as_str().starts_with(&idp.issuer), "{authorize}");
    let kept: Vec<(String, String)> = authorize
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut stripped = authorize.clone();
    stripped.query_pairs_mut().clear().extend_pairs(kept);
    let back = browser
        .follow(&stripped, &callback)
        .await
        .expect("back to us");
    let error = back
        .query_pairs()
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v.into_owned());
    assert_eq!(error.as_deref(), Some("invalid_request"), "{back}");
    let refused = browser.send(reqwest::Method::GET, &back, None).await;
    assert_eq!(refusal_of(&browser, &refused), "provider");

    // return_to elsewhere than a console path: refused before anything else.
    for elsewhere in [
        "https://evil.test/console/",
        "//evil.test/console/",
        "/console/..%2F..%2Fv1",
    ] {
        let url =
            Url::parse(&h.url(&format!("/v1/auth/oidc/start?return_to={elsewhere}"))).expect("url");
        let refused = Agent::new(&h).send(reqwest::Method::GET, &url, None).await;
        assert_eq!(refused.status, 422, "{elsewhere}: {}", refused.body);
        assert!(refused.location.is_none());
        assert!(refused.body.contains("return_to"), "{}", refused.body);
    }

    // An identity the provider vouches for but we have no account of.
    let mut stranger = Agent::new(&h);
    let at_callback = stranger
        .through_provider(&start, &callback, "stranger-9")
        .await;
    let refused = stranger
        .send(reqwest::Method::GET, &at_callback, None)
        .await;
    assert_eq!(refusal_of(&stranger, &refused), "no_account");

    // The sign-in is in the audit chain under the local user.
    let events = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    assert!(
        events.iter().any(|e| e.entry.actor == h.doctor_a.as_str()
            && e.entry.action == "GET /v1/auth/oidc/callback"
            && e.entry.status == 303),
        "the callback is audited under the user it signed in"
    );
    assert!(
        events
            .iter()
            .any(|e| e.entry.action == "GET /v1/auth/oidc/callback"
                && e.entry.status == 401
                && e.entry.outcome == cw_core::audit::AuditOutcome::Denied),
        "a refused callback is audited as a refusal, not as its redirect"
    );
}

#[tokio::test]
async fn embedded_the_console_signs_in_through_a_real_oidc_provider_with_pkce_state_and_nonce() {
    signs_in_through_a_real_provider(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_the_console_signs_in_through_a_real_oidc_provider_with_pkce_state_and_nonce() {
    signs_in_through_a_real_provider(Mode::Servers).await;
}
