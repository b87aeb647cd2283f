//! HTTP side of the Twilio sandbox: the two resources the notifier posts to (and the
//! account it reads in its start-up check), checked
//! the way Twilio checks them, answered in Twilio's JSON shapes.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::httpdate::now_rfc2822;
use crate::records::{RecordedCall, RecordedMessage, Shared};

const API_VERSION: &str = "2010-04-01";
const IDEMPOTENCY_HEADER: &str = "I-Twilio-Idempotency-Token";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        // `{AccountSid}.json`: the router captures whole segments only.
        .route("/2010-04-01/Accounts/{account}", get(fetch_account))
        .route(
            "/2010-04-01/Accounts/{account_sid}/Messages.json",
            post(create_message),
        )
        .route(
            "/2010-04-01/Accounts/{account_sid}/Calls.json",
            post(create_call),
        )
        .with_state(shared)
}

type FormPairs = Result<Form<Vec<(String, String)>>, FormRejection>;

async fn create_message(
    State(shared): State<Arc<Shared>>,
    Path(account_sid): Path<String>,
    headers: HeaderMap,
    form: FormPairs,
) -> Result<Response, TwilioError> {
    let params = checked_params(&headers, form)?;
    refuse_if_faulty(&shared)?;
    let to = params.required("To", 21604, "A 'To' phone number is required.")?;
    let from = params.required("From", 21603, "A 'From' phone number is required.")?;
    let body = params.required("Body", 21602, "Message body is required.")?;
    let sid = new_sid("SM");
    let now = now_rfc2822();
    let answer = json!({
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {
            "media": format!("/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}/Media.json"),
        },
        "to": to,
        "uri": format!("/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json"),
    });
    let message = RecordedMessage {
        sid,
        account_sid,
        to: to.to_owned(),
        from: from.to_owned(),
        body: body.to_owned(),
        status_callback: params.get("StatusCallback").map(str::to_owned),
        idempotency_token: idempotency_token(&headers),
    };
    let answer = shared.record_message(message, answer);
    tracing::debug!(sid = %answer["sid"], "sandbox recorded message");
    hold_if_slow(&shared).await;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// The account resource, as Twilio's "Fetch an Account" answers it (the fields a client
/// could read; the notifier's start-up check needs the `sid`).
async fn fetch_account(
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Result<Response, TwilioError> {
    if !has_basic_auth(&headers) {
        return Err(TwilioError::unauthenticated());
    }
    // No injected faults here: they stand for the send path (tests count the sends
    // refused), and the notifier's start-up check must not use one up.
    let Some(account_sid) = account.strip_suffix(".json") else {
        return Err(TwilioError {
            status: StatusCode::NOT_FOUND,
            code: 20404,
            message: "The requested resource was not found".to_owned(),
        });
    };
    let now = now_rfc2822();
    let answer = json!({
        "auth_token": null,
        "date_created": now,
        "date_updated": now,
        "friendly_name": "cardiowatch sandbox",
        "owner_account_sid": account_sid,
        "sid": account_sid,
        "status": "active",
        "type": "Full",
        "uri": format!("/{API_VERSION}/Accounts/{account_sid}.json"),
    });
    Ok((StatusCode::OK, Json(answer)).into_response())
}

async fn create_call(
    State(shared): State<Arc<Shared>>,
    Path(account_sid): Path<String>,
    headers: HeaderMap,
    form: FormPairs,
) -> Result<Response, TwilioError> {
    let params = checked_params(&headers, form)?;
    refuse_if_faulty(&shared)?;
    let to = params.required("To", 21201, "No 'To' number is specified")?;
    let from = params.required("From", 21213, "No 'From' number is specified")?;
    let twiml = params.get("Twiml").map(str::to_owned);
    let url = params.get("Url").map(str::to_owned);
    if twiml.is_none() && url.is_none() {
        return Err(TwilioError::bad_request(
            21205,
            "Either Url, Twiml or ApplicationSid is required.",
        ));
    }
    let sid = new_sid("CA");
    let now = now_rfc2822();
    let answer = json!({
        "account_sid": account_sid,
        "annotation": null,
        "answered_by": null,
        "api_version": API_VERSION,
        "caller_name": null,
        "date_created": now,
        "date_updated": now,
        "direction": "outbound-api",
        "duration": null,
        "end_time": null,
        "forwarded_from": null,
        "from": from,
        "from_formatted": from,
        "group_sid": null,
        "parent_call_sid": null,
        "phone_number_sid": null,
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "start_time": null,
        "status": "queued",
        "to": to,
        "to_formatted": to,
        "uri": format!("/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}.json"),
    });
    let call = RecordedCall {
        sid,
        account_sid,
        to: to.to_owned(),
        from: from.to_owned(),
        twiml,
        url,
        status_callback: params.get("StatusCallback").map(str::to_owned),
        idempotency_token: idempotency_token(&headers),
    };
    let answer = shared.record_call(call, answer);
    tracing::debug!(sid = %answer["sid"], "sandbox recorded call");
    hold_if_slow(&shared).await;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// A configured outage: answered before anything is recorded, as a provider that failed
/// on its side would.
fn refuse_if_faulty(shared: &Shared) -> Result<(), TwilioError> {
    match shared.faults.refusal() {
        Some(status) => Err(TwilioError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            code: 20500,
            message: "Service unavailable (sandbox fault)".to_owned(),
        }),
        None => Ok(()),
    }
}

/// A slow provider: the message is recorded (it went out) but the answer comes late, so
/// a client with a shorter timeout never learns it was accepted.
async fn hold_if_slow(shared: &Shared) {
    if let Some(delay) = shared.faults.delay() {
        tokio::time::sleep(delay).await;
    }
}

/// Form parameters in request order; the first value wins for repeated keys.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter Twilio requires, or its 400 with Twilio's error code and message.
    fn required(&self, key: &str, code: u32, message: &str) -> Result<&str, TwilioError> {
        self.get(key)
            .ok_or_else(|| TwilioError::bad_request(code, message))
    }
}

/// Authentication first (as Twilio does), then the body must be a form.
fn checked_params(headers: &HeaderMap, form: FormPairs) -> Result<Params, TwilioError> {
    if !has_basic_auth(headers) {
        return Err(TwilioError::unauthenticated());
    }
    match form {
        Ok(Form(pairs)) => Ok(Params(pairs)),
        Err(rejection) => Err(TwilioError {
            status: rejection.status(),
            code: 20001,
            message: rejection.body_text(),
        }),
    }
}

/// Twilio needs *some* `user:password` pair; like Prism we do not check the values, so
/// any account's client code can talk to the sandbox.
fn has_basic_auth(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    matches!(text.split_once(':'), Some((user, password)) if !user.is_empty() && !password.is_empty())
}

fn idempotency_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A refusal, answered as Twilio's error document:
/// `{"code", "message", "more_info", "status"}`.
struct TwilioError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl TwilioError {
    fn bad_request(code: u32, message: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.to_owned(),
        }
    }

    fn unauthenticated() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: 20003,
            message: "Authenticate".to_owned(),
        }
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let body: Value = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        resp
    }
}

/// A Twilio-style SID: two-letter prefix and 32 lowercase hex digits.
fn new_sid(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}
