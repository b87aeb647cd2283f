//! A client of the api's live WebSockets (`GET /v1/patients/{id}/live`, the worklist's
//! `GET /v1/alerts/live`) over TLS, as a server-side client (bearer header) or as a
//! browser must (token as a subprotocol).

use futures::StreamExt;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, handshake::client::Response};

pub type Live =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

pub enum Auth<'a> {
    /// `Authorization: Bearer` (what a server-side client sends).
    Header(&'a str),
    /// `Sec-WebSocket-Protocol: cardiowatch.v1, bearer.<token>` (what a browser can send).
    Subprotocol(&'a str),
}

/// Opens the live socket of the api at `port` (trusting `ca`); the handshake response
/// comes back too. `recv_buffer` shrinks the client's TCP receive buffer (a slow phone).
pub async fn open_live(
    port: u16,
    ca: &Path,
    patient: &str,
    auth: Auth<'_>,
    recv_buffer: Option<u32>,
) -> Result<(Live, Response), tungstenite::Error> {
    open_socket(
        port,
        ca,
        &format!("/v1/patients/{patient}/live"),
        auth,
        recv_buffer,
    )
    .await
}

/// Opens the worklist's live socket (`GET /v1/alerts/live`) of the api at `port`.
pub async fn open_worklist(
    port: u16,
    ca: &Path,
    auth: Auth<'_>,
) -> Result<(Live, Response), tungstenite::Error> {
    open_socket(port, ca, "/v1/alerts/live", auth, None).await
}

/// Opens the live socket at `path` of the api at `port` (trusting `ca`).
pub async fn open_socket(
    port: u16,
    ca: &Path,
    path: &str,
    auth: Auth<'_>,
    recv_buffer: Option<u32>,
) -> Result<(Live, Response), tungstenite::Error> {
    let url = format!("wss://127.0.0.1:{port}{path}");
    let mut request = url.into_client_request()?;
    let (name, value) = match auth {
        Auth::Header(token) => ("authorization", format!("Bearer {token}")),
        Auth::Subprotocol(token) => (
            "sec-websocket-protocol",
            format!("cardiowatch.v1, bearer.{token}"),
        ),
    };
    request
        .headers_mut()
        .insert(name, HeaderValue::from_str(&value).expect("header value"));
    let connector =
        tokio_rustls::TlsConnector::from(cw_tls::client_config(ca).expect("client TLS config"));
    let socket = tokio::net::TcpSocket::new_v4().expect("tcp socket");
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes).expect("receive buffer");
    }
    let tcp = socket
        .connect(([127, 0, 0, 1], port).into())
        .await
        .expect("api reachable");
    let name =
        tokio_rustls::rustls::pki_types::ServerName::try_from("127.0.0.1").expect("server name");
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    tokio_tungstenite::client_async(request, tls).await
}

/// Reads past other messages until the server closes the socket; its close code (1005
/// when the frame carries none). Panics when no close frame comes within `within`.
pub async fn close_code(socket: &mut Live, within: std::time::Duration) -> u16 {
    use futures::StreamExt;
    loop {
        match tokio::time::timeout(within, socket.next()).await {
            Ok(Some(Ok(tungstenite::Message::Close(frame)))) => {
                return frame.map(|f| u16::from(f.code)).unwrap_or(1005);
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("the socket must be closed with a close frame: {other:?}"),
        }
    }
}

/// The socket's messages until `done` holds for one (all of them, in order); panics when
/// that takes more than `within` or the socket ends.
pub async fn read_until(
    socket: &mut Live,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).expect("JSON message");
                let found = done(&message);
                seen.push(message);
                if found {
                    return seen;
                }
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("waiting for {what}: {other:?}; seen {seen:?}"),
        }
    }
}
