//! The worklist's one live socket, `GET /v1/alerts/live` (docs/live.md, "Worklist
//! socket"), on both backends: a doctor's socket carries the alert changes of their own
//! patients (fired, acknowledged, `updated` by a triage) and their pages (`delivery`:
//! channel, step, status as it moves on) and never another doctor's patient's; it counts as one socket against the per-user cap; a patient unassigned
//! while it is open stops being sent; a disabled account is thrown out (4003); admins and
//! ops are refused as on `GET /v1/alerts`; opening and closing are audited.

use cw_core::audit::AuditOutcome;
use cw_core::time::now_ns;
use cw_core::{Channel, DeliveryStatus, Priority, Role, RuleKind};
use cw_e2e::api::{ApiHarness, firing};
use cw_e2e::live::{Auth, Live, close_code, open_live, open_worklist, read_until};
use cw_e2e::system::Mode;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};

#[tokio::test(flavor = "multi_thread")]
async fn embedded_the_worklist_socket_carries_only_the_callers_patients_alerts_and_ends_for_a_disabled_account()
 {
    worklist_socket(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn servers_the_worklist_socket_carries_only_the_callers_patients_alerts_and_ends_for_a_disabled_account()
 {
    worklist_socket(Mode::Servers).await;
}

/// Every message within `within` (the socket must stay open).
async fn read_for(socket: &mut Live, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return seen,
            Ok(Some(Ok(Message::Text(text)))) => {
                seen.push(serde_json::from_str(&text).expect("JSON message"));
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("the socket stays open: {other:?}; seen {seen:?}"),
        }
    }
}

fn refused(opened: Result<(Live, impl std::fmt::Debug), tungstenite::Error>) -> u16 {
    match opened {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the socket opened"),
    }
}

async fn post(h: &ApiHarness, token: &str, path: &str, body: Value) -> u16 {
    h.http
        .post(h.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("api answers")
        .status()
        .as_u16()
}

async fn worklist_socket(mode: Mode) {
    const RECHECK_S: u64 = 1;
    let h = ApiHarness::start_with(mode, |cfg| {
        cfg.live.event_endpoints = Vec::new();
        cfg.live.sample_endpoints = Vec::new();
        cfg.live.alert_poll_ms = 200;
        cfg.live.access_recheck_s = RECHECK_S;
        cfg.live.max_sockets_per_user = 2;
    })
    .await;
    let (port, ca) = h.port_and_ca();
    let admin = h.token(&h.admin, Role::Admin);
    let ops = h.token(&h.ops, Role::Ops);
    // As `GET /v1/alerts` without a patient: a doctor's list; admins and ops have none.
    for token in [&admin, &ops] {
        assert_eq!(
            refused(open_worklist(port, &ca, Auth::Subprotocol(token)).await),
            403
        );
    }

    // Doctor A's account record (a login), which the admin disables at the end.
    let login = h
        .http
        .put(h.url(&format!("/v1/users/{}/login", h.doctor_a)))
        .bearer_auth(&admin)
        .json(&json!({"role": "doctor", "password": "worklist socket password 1"}))
        .send()
        .await
        .expect("api answers");
    assert!(login.status().is_success(), "login set: {}", login.status());
    let doctor = h.current_token(&h.doctor_a, Role::Doctor).await;
    let (mut socket, response) = open_worklist(port, &ca, Auth::Subprotocol(&doctor))
        .await
        .expect("the doctor's worklist socket opens");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("cardiowatch.v1"),
        "the server selects the protocol and never echoes the token"
    );
    let first = read_until(&mut socket, Duration::from_secs(5), "the greeting", |m| {
        m["type"] == "alert"
    })
    .await;
    assert_eq!(first[0]["type"], "hello", "{first:?}");
    assert_eq!(first[0]["patients"], 1, "doctor A has one patient");
    assert_eq!(first[1]["event"], "open");
    assert_eq!(first[1]["alert"]["id"], h.own_alert.as_str());

    // One socket of the per-user cap (2 here): a patient's socket still opens beside it,
    // a third socket does not.
    let (beside, _) = open_live(port, &ca, h.own.as_str(), Auth::Header(&doctor), None)
        .await
        .expect("a patient socket beside the worklist's");
    assert_eq!(
        refused(open_worklist(port, &ca, Auth::Header(&doctor)).await),
        429
    );
    drop(beside);

    // Doctor B's patient's alarm is stored first, then one of doctor A's: only A's comes.
    let foreign = firing(&h.other, RuleKind::Pause, Priority::High, now_ns());
    h.stores
        .records
        .open_alert(&foreign)
        .await
        .expect("foreign alarm stored");
    let mine = firing(&h.own, RuleKind::Pause, Priority::High, now_ns());
    h.stores
        .records
        .open_alert(&mine)
        .await
        .expect("own alarm stored");
    let mine_id = mine.id.to_string();
    let is = |m: &Value, event: &str| m["event"] == event && m["alert"]["id"] == mine_id.as_str();
    let mut told = read_until(&mut socket, Duration::from_secs(5), "A's new alarm", |m| {
        is(m, "fired")
    })
    .await;
    assert_eq!(
        post(&h, &doctor, &format!("/v1/alerts/{mine_id}/ack"), json!({})).await,
        200
    );
    told.extend(
        read_until(&mut socket, Duration::from_secs(5), "the ack", |m| {
            is(m, "acknowledged")
        })
        .await,
    );
    assert_eq!(
        post(
            &h,
            &doctor,
            &format!("/v1/alerts/{mine_id}/triage"),
            json!({"verdict": "artifact"})
        )
        .await,
        200
    );
    told.extend(
        read_until(
            &mut socket,
            Duration::from_secs(5),
            "the triage, as an update",
            |m| is(m, "updated"),
        )
        .await,
    );
    let updated = told.last().expect("the update");
    assert_eq!(updated["alert"]["triage"]["verdict"], "artifact");
    told.extend(read_for(&mut socket, Duration::from_millis(600)).await);
    assert!(
        told.iter().all(|m| m["alert"]["patient"] == h.own.as_str()),
        "only doctor A's patient's alerts: {told:?}"
    );
    for event in ["fired", "acknowledged", "updated"] {
        assert_eq!(
            told.iter().filter(|m| is(m, event)).count(),
            1,
            "each change told once: {told:?}"
        );
    }

    // Pages: the notifier's rows as it writes them. A's alarm's SMS is sent with its
    // channel and step, and again when it moves on; the foreign alarm's page is not sent.
    let doctor_a = h.doctor_a.clone();
    let sms = cw_core::Delivery::claim(mine.id.clone(), Channel::Sms, doctor_a, 1, now_ns());
    let theirs = cw_core::Delivery::claim(
        foreign.id.clone(),
        Channel::Sms,
        h.doctor_b.clone(),
        1,
        now_ns(),
    );
    for row in [&theirs, &sms] {
        h.stores.records.claim_delivery(row).await.expect("claimed");
    }
    let page = |m: &Value, status: &str| {
        m["type"] == "delivery"
            && m["delivery"]["alert"] == mine_id.as_str()
            && m["delivery"]["status"] == status
    };
    let mut pages = read_until(&mut socket, Duration::from_secs(5), "the queued SMS", |m| {
        page(m, "queued")
    })
    .await;
    let queued = &pages.last().expect("the page")["delivery"];
    assert_eq!(
        (&queued["channel"], &queued["attempt"], &queued["recipient"]),
        (&json!("sms"), &json!(1), &json!(h.doctor_a.as_str())),
        "{queued}"
    );
    h.stores
        .records
        .update_delivery(&cw_core::Delivery {
            status: DeliveryStatus::Sent,
            provider_id: Some("SM-worklist-socket".into()),
            updated_ns: now_ns(),
            ..sms.clone()
        })
        .await
        .expect("sent");
    pages.extend(
        read_until(&mut socket, Duration::from_secs(5), "the sent SMS", |m| {
            page(m, "sent")
        })
        .await,
    );
    pages.extend(read_for(&mut socket, Duration::from_millis(600)).await);
    let delivered: Vec<&Value> = pages.iter().filter(|m| m["type"] == "delivery").collect();
    assert_eq!(
        delivered.len(),
        2,
        "queued then sent, each once, and nothing of the foreign alarm: {pages:?}"
    );

    // A's patient given to doctor B alone: after the re-check its alarms are not sent.
    let reassigned = h
        .http
        .put(h.url(&format!("/v1/patients/{}/doctors", h.own)))
        .bearer_auth(&admin)
        .json(&json!({"doctors": [h.doctor_b.as_str()]}))
        .send()
        .await
        .expect("api answers");
    assert_eq!(reassigned.status(), 200);
    tokio::time::sleep(Duration::from_secs(RECHECK_S * 2) + Duration::from_millis(500)).await;
    let after = firing(&h.own, RuleKind::Couplet, Priority::High, now_ns());
    h.stores
        .records
        .open_alert(&after)
        .await
        .expect("alarm stored");
    let late = read_for(&mut socket, Duration::from_secs(2)).await;
    assert!(
        late.is_empty(),
        "an unassigned patient's alarm is not sent: {late:?}"
    );

    // The account disabled: the socket is closed at once as access revoked.
    assert_eq!(
        post(
            &h,
            &admin,
            &format!("/v1/users/{}/disable", h.doctor_a),
            json!({"reason": "left the hospital"})
        )
        .await,
        200
    );
    let disabled = Instant::now();
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(5)).await,
        4003,
        "closed as access revoked"
    );
    assert!(
        disabled.elapsed() < Duration::from_secs(4),
        "within the session re-check: {:?}",
        disabled.elapsed()
    );

    let audit = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    let worklist: Vec<_> = audit
        .iter()
        .filter(|e| e.entry.action == "GET /v1/alerts/live")
        .collect();
    let by = |actor: &str, outcome: AuditOutcome, status: u16| {
        worklist.iter().any(|e| {
            e.entry.actor == actor && e.entry.outcome == outcome && e.entry.status == status
        })
    };
    assert!(
        by(h.doctor_a.as_str(), AuditOutcome::Allowed, 101),
        "the upgrade is audited: {worklist:?}"
    );
    assert!(
        by(h.doctor_a.as_str(), AuditOutcome::Denied, 4003),
        "the closing is audited as a denial: {worklist:?}"
    );
    assert!(
        by(h.ops.as_str(), AuditOutcome::Denied, 403),
        "the refusal is audited: {worklist:?}"
    );
}
