//! The live WebSocket's attack suite (issue 13 #8, and the session re-check of #12): each
//! test replays an attack on `GET /v1/patients/{id}/live` of a real api over TLS and
//! asserts it no longer works. `docs/security.md` maps each to its control.

use crate::attacks_api::{call, log_out, set_login, signed_in};
use cw_core::Role;
use cw_core::audit::AuditOutcome;
use cw_e2e::api::ApiHarness;
use cw_e2e::live::{Auth, Live, open_live};
use cw_e2e::system::Mode;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, Message};

/// An api with no bus: sockets get their greeting from the store alone.
async fn api_without_bus(tune: impl FnOnce(&mut cw_api::ApiConfig)) -> ApiHarness {
    ApiHarness::start_with(Mode::Embedded, |cfg| {
        cfg.live.event_endpoints = Vec::new();
        cfg.live.sample_endpoints = Vec::new();
        tune(cfg);
    })
    .await
}

/// A socket on doctor A's patient with `token`, read up to its `hello`.
async fn own_patient_socket(h: &ApiHarness, token: &str) -> Result<Live, tungstenite::Error> {
    let (port, ca) = h.port_and_ca();
    let (mut socket, _) = open_live(port, &ca, h.own.as_str(), Auth::Header(token), None).await?;
    let hello = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("hello in time");
    match hello {
        Some(Ok(Message::Text(text))) => {
            let hello: Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(hello["type"], "hello");
        }
        other => panic!("the socket starts with hello: {other:?}"),
    }
    Ok(socket)
}

/// How the socket ended within `within`: the close code (1006 for a dropped connection),
/// or `None` when it is still open.
async fn ended_within(socket: &mut Live, within: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Some(frame.map(|f| u16::from(f.code)).unwrap_or(1005));
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => return Some(1006),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_mib_live_message_ends_that_socket_and_nothing_else() {
    let h = api_without_bus(|_| {}).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let mut attacker = own_patient_socket(&h, &token).await.expect("opens");
    let mut bystander = own_patient_socket(&h, &token).await.expect("opens");
    // Found live: ~60 MiB messages were buffered whole (4 sockets: +350 MB RSS).
    let big = "x".repeat(1 << 20);
    // The server may cut the connection while the message is still being written.
    let _ = attacker.send(Message::Text(big.into())).await;
    let ended = ended_within(&mut attacker, Duration::from_secs(5)).await;
    assert!(
        matches!(ended, Some(1009 | 1006)),
        "the oversized message ends its socket (message too big): {ended:?}"
    );
    assert_eq!(
        ended_within(&mut bystander, Duration::from_millis(500)).await,
        None,
        "another socket stays open"
    );
    own_patient_socket(&h, &token)
        .await
        .expect("the api still opens sockets");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_user_cannot_open_more_live_sockets_than_the_per_user_limit() {
    let h = api_without_bus(|_| {}).await;
    let limit = cw_api::ApiConfig::default().live.max_sockets_per_user;
    assert!((1..=16).contains(&limit), "a sane default: {limit}");
    let token = h.token(&h.doctor_a, Role::Doctor);
    let mut held = Vec::new();
    for _ in 0..limit {
        held.push(
            own_patient_socket(&h, &token)
                .await
                .expect("within the limit"),
        );
    }
    match own_patient_socket(&h, &token).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("a JSON error");
            assert_eq!(body["error"]["code"], "live_sockets_per_user", "{body}");
        }
        Ok(_) => panic!("socket {} of one user opened", limit + 1),
        Err(e) => panic!("refused with a status, not {e}"),
    }
    // Another user is not held back by doctor A's sockets.
    let admin = h.token(&h.admin, Role::Admin);
    own_patient_socket(&h, &admin)
        .await
        .expect("another user's socket opens");
    // A closed socket gives its place back.
    let mut one = held.pop().expect("a socket");
    one.close(None).await.expect("close");
    drop(one);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match own_patient_socket(&h, &token).await {
            Ok(_) => break,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "the freed place is reused: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long an ended session's socket may stay open: the session re-check's default
/// interval and a margin.
const WITHIN: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread")]
async fn a_live_socket_closes_within_seconds_of_its_sessions_logout() {
    let h = api_without_bus(|_| {}).await;
    assert_eq!(set_login(&h, &h.doctor_a, "doctor").await, 204);
    let (access, refresh) = signed_in(&h, &h.doctor_a).await;
    let (other_session, _) = signed_in(&h, &h.doctor_a).await;
    let mut logged_out = own_patient_socket(&h, &access).await.expect("opens");
    let mut other = own_patient_socket(&h, &other_session).await.expect("opens");
    assert_eq!(log_out(&h, &refresh).await, 204);
    assert_eq!(
        ended_within(&mut logged_out, WITHIN).await,
        Some(4001),
        "the logged-out session's socket is closed as session over"
    );
    assert_eq!(
        ended_within(&mut other, Duration::from_millis(500)).await,
        None,
        "the same doctor's other session keeps its socket"
    );
    let audit = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.entry.action == "GET /v1/patients/{id}/live"
                && e.entry.actor == h.doctor_a.as_str()
                && e.entry.outcome == AuditOutcome::Denied
                && e.entry.status == 4001),
        "the closing is audited as a denial"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_demoted_admins_live_socket_closes_within_seconds() {
    let h = api_without_bus(|_| {}).await;
    let demoted = cw_core::UserId::random();
    assert_eq!(set_login(&h, &demoted, "admin").await, 204);
    let (access, _) = signed_in(&h, &demoted).await;
    // An admin may watch any patient; as a doctor they are assigned to none.
    let mut socket = own_patient_socket(&h, &access).await.expect("opens");
    assert_eq!(set_login(&h, &demoted, "doctor").await, 204, "demoted");
    assert_eq!(ended_within(&mut socket, WITHIN).await, Some(4001));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_doctors_live_socket_closes_within_seconds() {
    let h = api_without_bus(|_| {}).await;
    assert_eq!(
        set_login(&h, &h.doctor_a, "doctor").await,
        204,
        "an account"
    );
    let token = h.current_token(&h.doctor_a, Role::Doctor).await;
    let mut socket = own_patient_socket(&h, &token).await.expect("opens");
    let disabled = call(
        &h,
        reqwest::Method::POST,
        &format!("/v1/users/{}/disable", h.doctor_a),
        &h.token(&h.admin, Role::Admin),
        json!({"reason": "stolen phone reported"}),
    )
    .await;
    assert_eq!(disabled, 200);
    assert_eq!(
        ended_within(&mut socket, WITHIN).await,
        Some(4003),
        "closed as access revoked, long before live.access_recheck_s"
    );
}
