//! HTTP handlers of the webhook listener. An SMS reply acknowledges only a page sent to
//! its phone before it, named by the page's code (a bare "1" only when one is open);
//! each `MessageSid` / `CallSid` acts once (the store's `ReplayGuard`).

use super::ack::{self, AckOutcome, Reply};
use super::{CallbackUrls, signature};
use crate::events::{StatusCallback, WebhookRefusal, WebhookRejected};
use crate::metrics::NotifierMetrics;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cw_core::secret::{ExposeSecret, SecretString};
use cw_core::time::now_ns;
use cw_core::{AlertId, Channel, Delivery, DeliveryStatus};
use cw_runtime::InternalEvent;
use cw_storage::{NotifierRecords, StoreError};
use std::sync::Arc;

pub const STATUS_PATH: &str = "/twilio/status";
pub const GATHER_PATH: &str = "/twilio/voice/gather";
pub const SMS_PATH: &str = "/twilio/sms";

pub struct WebhookState {
    pub records: Arc<dyn NotifierRecords>,
    pub metrics: Arc<NotifierMetrics>,
    pub urls: CallbackUrls,
    /// Twilio's auth token: the key of `X-Twilio-Signature`.
    pub auth_token: SecretString,
}

pub fn router(state: Arc<WebhookState>) -> Router {
    Router::new()
        .route(STATUS_PATH, post(status_callback))
        .route(GATHER_PATH, post(key_press))
        .route(SMS_PATH, post(sms_reply))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .with_state(state)
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The delivery a callback is about: the `alert` and `key` query parameters that our
/// callback URLs carry, or why the request is bad (400).
fn delivery_ref(uri: &axum::http::Uri) -> Result<(AlertId, String), &'static str> {
    let (Some(alert), Some(key)) = (query_param(uri, "alert"), query_param(uri, "key")) else {
        return Err("alert and key required");
    };
    let alert = AlertId::parse(&alert).map_err(|_| "bad alert id")?;
    Ok((alert, key))
}

/// The outbox row a callback names, by its alert and idempotency key.
async fn delivery_named(
    state: &WebhookState,
    alert: &AlertId,
    key: &str,
) -> Result<Option<Delivery>, StoreError> {
    let rows = state.records.deliveries_for_alert(alert).await?;
    Ok(rows.into_iter().find(|d| d.idempotency_key() == key))
}

fn query_param(uri: &axum::http::Uri, key: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Checks `X-Twilio-Signature` over the URL Twilio called and the form parameters.
async fn verified(
    state: &WebhookState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    params: &Params,
) -> bool {
    let ok = signature_ok(state, headers, uri, params);
    if !ok {
        // Refusals are audited (denied, anonymous), like the api's 401/403.
        let mut entry = ack::audit_entry(
            "anonymous",
            &format!("POST {}", uri.path()),
            uri.path(),
            cw_core::audit::AuditOutcome::Denied,
            "",
        );
        entry.status = 403;
        if let Err(e) = state.records.append_audit(&entry).await {
            tracing::error!(error = %e, "audit write of a refused webhook failed");
        }
    }
    ok
}

fn signature_ok(
    state: &WebhookState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    params: &Params,
) -> bool {
    let Some(sig) = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
    else {
        WebhookRejected(WebhookRefusal::NoSignature { path: uri.path() }).emit(&state.metrics);
        return false;
    };
    let path_and_query = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let ok = signature::verify(
        state.auth_token.expose_secret(),
        &state.urls.signed_url(path_and_query),
        params,
        sig,
    );
    if !ok {
        WebhookRejected(WebhookRefusal::BadSignature { path: uri.path() }).emit(&state.metrics);
    }
    ok
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "signature does not verify").into_response()
}

fn twiml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn store_error(e: cw_storage::StoreError) -> Response {
    tracing::warn!(error = %e, "webhook: store unavailable");
    // Twilio retries webhooks that fail with 5xx.
    (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
}

/// MessageStatus / CallStatus → the row's status: delivered and completed calls are
/// `delivered`; undeliverable, busy, unanswered calls are `failed` for good (escalation
/// and failover take over); interim states change nothing.
fn status_from(raw: &str) -> Option<DeliveryStatus> {
    match raw {
        "delivered" | "completed" | "read" => Some(DeliveryStatus::Delivered),
        "failed" | "undelivered" | "busy" | "no-answer" | "canceled" => {
            Some(DeliveryStatus::Failed)
        }
        _ => None,
    }
}

async fn status_callback(
    State(state): State<Arc<WebhookState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Response {
    if !verified(&state, &headers, &uri, &params).await {
        return forbidden();
    }
    let (alert, key) = match delivery_ref(&uri) {
        Ok(found) => found,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let raw = param(&params, "MessageStatus")
        .or(param(&params, "CallStatus"))
        .unwrap_or("");
    StatusCallback { raw }.emit(&state.metrics);
    let Some(status) = status_from(raw) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let sid = param(&params, "MessageSid")
        .or(param(&params, "CallSid"))
        .filter(|s| !s.is_empty());
    // The row is changed as a compare-and-set (`DeliveryStore::update_delivery`); the
    // notifier recording the provider's answer may move it in between, so re-read and
    // apply the status again — a few times, the race is a window of milliseconds.
    let mut tries_left = 3;
    loop {
        let mut row = match delivery_named(&state, &alert, &key).await {
            Ok(Some(row)) => row,
            Ok(None) => return (StatusCode::NOT_FOUND, "no such delivery").into_response(),
            Err(e) => return store_error(e),
        };
        row.status = status;
        row.updated_ns = now_ns();
        // A callback that wins the race against the notifier's own record of the
        // provider's answer still leaves the row naming its message or call.
        if row.provider_id.is_none() {
            row.provider_id = sid.map(str::to_owned);
        }
        // Likewise its acceptance time: a sent or delivered status means the provider
        // took the message by now at the latest (the notifier's own, earlier record of
        // it lost the race and is dropped as superseded).
        if row.sent_ns.is_none() && status != DeliveryStatus::Failed {
            row.sent_ns = Some(row.updated_ns);
        }
        if status == DeliveryStatus::Failed {
            row.next_try_ns = None;
            let code = param(&params, "ErrorCode").unwrap_or("");
            row.error = Some(format!("provider reported {raw} {code}").trim().to_owned());
        }
        match state.records.update_delivery(&row).await {
            Ok(()) => return StatusCode::NO_CONTENT.into_response(),
            Err(cw_storage::StoreError::Conflict(_)) if tries_left > 0 => tries_left -= 1,
            Err(e) => return store_error(e),
        }
    }
}

async fn key_press(
    State(state): State<Arc<WebhookState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Response {
    if !verified(&state, &headers, &uri, &params).await {
        return forbidden();
    }
    let (alert, key) = match delivery_ref(&uri) {
        Ok(found) => found,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    if param(&params, "Digits").unwrap_or("").is_empty() {
        return twiml(say("No key was pressed. Goodbye."));
    }
    let row = match delivery_named(&state, &alert, &key).await {
        Ok(Some(row)) => row,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such delivery").into_response(),
        Err(e) => return store_error(e),
    };
    let Some(sid) = param(&params, "CallSid").filter(|s| !s.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "CallSid required").into_response();
    };
    // The gather URL (signed) names the row; the call must be the one placed for it.
    if row
        .provider_id
        .as_deref()
        .is_some_and(|placed| placed != sid)
    {
        tracing::warn!(alert = %alert, "key press from another call than the page's refused");
        return twiml(say("This call cannot acknowledge the alert. Goodbye."));
    }
    match ack::first_use(
        state.records.as_ref(),
        &state.metrics,
        Channel::Voice,
        &format!("voice:{sid}"),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            return twiml(say(
                "This key press was already counted. Nothing changed. Goodbye.",
            ));
        }
        Err(e) => return store_error(e),
    }
    match ack::acknowledge(
        state.records.as_ref(),
        &state.metrics,
        &alert,
        &row.recipient,
        Channel::Voice,
        sid,
    )
    .await
    {
        Ok(AckOutcome::AccountDisabled) => twiml(say(
            "This account is disabled. The alert is not acknowledged. Goodbye.",
        )),
        Ok(_) => twiml(say("The alert is acknowledged. Thank you. Goodbye.")),
        Err(e) => store_error(e),
    }
}

async fn sms_reply(
    State(state): State<Arc<WebhookState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Response {
    if !verified(&state, &headers, &uri, &params).await {
        return forbidden();
    }
    let from = param(&params, "From").unwrap_or("");
    let reply = ack::parse_reply(param(&params, "Body").unwrap_or(""));
    if reply == Reply::Other {
        return twiml(message(
            "Reply with the code of the page to acknowledge it (or 1 if only one alert is open).",
        ));
    }
    let Some(sid) = param(&params, "MessageSid").filter(|s| !s.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "MessageSid required").into_response();
    };
    // Spent before anything is read or changed: a captured reply posted again (to this
    // replica or another, before or after a restart) acts never, not "once more". A
    // store failure after this point answers 503 and the doctor replies again.
    match ack::first_use(
        state.records.as_ref(),
        &state.metrics,
        Channel::Sms,
        &format!("sms:{sid}"),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            return twiml(message(
                "This reply was already counted; nothing was acknowledged.",
            ));
        }
        Err(e) => return store_error(e),
    }
    let pages = match ack::pages_to_phone(state.records.as_ref(), from).await {
        Ok(pages) => pages,
        Err(e) => return store_error(e),
    };
    let chosen = ack::matching(&pages, &reply);
    let page = match chosen.as_slice() {
        [] => return twiml(message("No open alert paged to this phone matches.")),
        [page] => *page,
        several => {
            let choices: Vec<(String, &cw_core::Alert)> =
                several.iter().map(|p| (p.code.clone(), &p.alert)).collect();
            return twiml(message(&crate::message::which_one(&choices)));
        }
    };
    match ack::acknowledge(
        state.records.as_ref(),
        &state.metrics,
        &page.alert.id,
        &page.recipient,
        Channel::Sms,
        sid,
    )
    .await
    {
        Ok(AckOutcome::AccountDisabled) => twiml(message(
            "This account is disabled: the alert is not acknowledged.",
        )),
        Ok(_) => twiml(message(&format!(
            "Alert {} ({}) acknowledged.",
            page.code,
            page.alert.rule.describe()
        ))),
        Err(e) => store_error(e),
    }
}

fn say(text: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>{text}</Say></Response>"#)
}

fn message(text: &str) -> String {
    // Our own texts, codes, ids and rule names: escaped anyway, so a rule name can never
    // break the TwiML.
    let text = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>{text}</Message></Response>"#
    )
}
