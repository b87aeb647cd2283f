//! Live views of one patient over a WebSocket (`GET /v1/patients/{id}/live`, handler in
//! `routes/live.rs`): heart rate per beat and alert state from the alert-engines' events
//! PUB, ECG from ingest's samples PUB, min/max-subsampled for a screen; and the worklist's
//! one socket for every patient's alert changes (`GET /v1/alerts/live`,
//! `worklist_feed.rs`).
//!
//! One [`hub::LiveHub`] per api process subscribes only to the shards someone watches and
//! fans each patient's messages out through one bounded broadcast channel; a slow socket
//! loses its oldest messages (counted, and told) and is closed if it stays behind — it
//! never holds up the bus or another socket (`forward.rs`).

pub mod access_recheck;
pub mod alert_states;
pub mod decimate;
pub mod forward;
pub mod hub;
pub mod messages;
pub mod stages;
pub mod user_sockets;
pub mod worklist_feed;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Events PUB of every alert-engine (heart rate, alert state).
    pub event_endpoints: Vec<String>,
    /// Samples PUB of every ingest (ECG).
    pub sample_endpoints: Vec<String>,
    /// ECG buckets per second per lead at most (each carries min and max).
    pub ecg_max_hz: u32,
    /// Messages buffered per socket; a socket further behind loses the oldest.
    pub queue: usize,
    /// A socket that has lost more messages than this, or that does not take one message
    /// within `send_timeout_ms`, is closed with code 4008.
    pub max_dropped: u64,
    pub send_timeout_ms: u64,
    /// Alert state is re-read from the store this often: acks by SMS, call or another api
    /// replica, and events the bus dropped, reach the socket within this time.
    pub alert_poll_ms: u64,
    /// A socket is closed (code 4001) after this long; reconnecting needs a valid token,
    /// so a socket never outlives its authorization by more than this.
    pub session_s: u64,
    /// Open sockets per api process; more are refused with 503.
    pub max_connections: usize,
    /// Open sockets per user (all patients, this api process); more are refused with 429
    /// `live_sockets_per_user` (issue 13 #8, `user_sockets.rs`).
    pub max_sockets_per_user: usize,
    /// Largest message (and frame) a client may send, in bytes; a larger one ends the
    /// socket (close 1009). Clients send only close and ping frames, so a few KiB is
    /// ample and no client can make the server buffer megabytes (issue 13 #8).
    pub max_message_bytes: usize,
    /// Each open socket re-checks its caller's access to its patient this often (the REST
    /// routes' decision, shared by the sockets of one user and patient) and is closed with
    /// code 4003 once it is gone: a removed assignment or an expired break-glass grant ends
    /// the view within this time.
    pub access_recheck_s: u64,
    /// Each open socket checks its session against the account record this often (a read
    /// shared by the user's sockets, at most half an interval old): logout or a role
    /// change closes it with 4001, a disable with 4003, within 1.5 intervals (issue 13 #12).
    pub session_recheck_ms: u64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            event_endpoints: vec!["tcp://127.0.0.1:5580".into()],
            sample_endpoints: vec!["tcp://127.0.0.1:5550".into()],
            ecg_max_hz: 50,
            queue: 256,
            max_dropped: 1024,
            send_timeout_ms: 5000,
            alert_poll_ms: 1000,
            session_s: 900,
            max_connections: 1000,
            max_sockets_per_user: 8,
            max_message_bytes: 4096,
            access_recheck_s: 30,
            session_recheck_ms: 2000,
        }
    }
}
