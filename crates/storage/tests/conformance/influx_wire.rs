//! What the InfluxDB adapter puts on the wire (auth, gzip, batches, error mapping),
//! checked against a recording HTTP server on loopback: these need no InfluxDB.

use crate::fixtures::{T0, block, device_id, patient_id};
use cw_storage::influx::InfluxSamples;
use cw_storage::{InfluxConfig, SampleStore, StoreError};
use std::io::Read;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
struct Request {
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text_body(&self) -> String {
        let raw = if self.header("content-encoding") == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(self.body.as_slice())
                .read_to_end(&mut out)
                .expect("gzip body");
            out
        } else {
            self.body.clone()
        };
        String::from_utf8(raw).expect("utf-8 body")
    }
}

/// Answers `/query` with an empty success and `/write` with `write_status` + body;
/// records every request.
async fn recording_server(
    write_status: u16,
    write_body: &'static str,
) -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let target = line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        if read.read_line(&mut h).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.push((k.trim().to_owned(), v.trim().to_owned()));
                        }
                    }
                    let len = headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    if read.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let (status, reply) = if target.starts_with("/write") {
                        (write_status, write_body)
                    } else {
                        (200, r#"{"results":[{"statement_id":0}]}"#)
                    };
                    log.lock().expect("log").push(Request {
                        target,
                        headers,
                        body,
                    });
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if write.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

/// The `/write` requests of samples: without the one that records the node's place in
/// the node list at start (measurement `cw_node`; docs/operations.md, "Several InfluxDB
/// nodes").
fn writes(seen: &Mutex<Vec<Request>>) -> Vec<Request> {
    seen.lock()
        .expect("log")
        .iter()
        .filter(|r| r.target.starts_with("/write") && !r.text_body().starts_with("cw_node "))
        .cloned()
        .collect()
}

#[tokio::test]
async fn writes_are_gzipped_line_protocol_batches_with_token_auth() {
    let (url, seen) = recording_server(204, "").await;
    let cfg = InfluxConfig {
        url,
        database: "ecgdb".into(),
        token: Some("tok-123".into()),
        batch_lines: 3,
        // Loopback would send plain bodies by default (`nodes.rs`, `is_loopback`).
        gzip: Some(true),
        ..InfluxConfig::default()
    };
    let store = InfluxSamples::connect(&cfg).await.expect("connect");
    let p = patient_id();
    let b = block(&p, &device_id(), 1, T0, 250, 2, 7);
    store.write(std::slice::from_ref(&b)).await.expect("write");

    let writes = writes(&seen);
    assert_eq!(writes.len(), 3, "7 lines in batches of 3");
    let mut lines = Vec::new();
    for w in &writes {
        assert!(
            w.target.contains("db=ecgdb") && w.target.contains("precision=ns"),
            "{}",
            w.target
        );
        assert_eq!(w.header("authorization"), Some("Token tok-123"));
        assert_eq!(w.header("content-encoding"), Some("gzip"));
        lines.extend(w.text_body().lines().map(str::to_owned));
    }
    let expected: Vec<String> = (0..7)
        .map(|i| {
            let f = b.frame(i);
            format!("ecg,patient={p} l0={}i,l1={}i {}", f[0], f[1], b.time_of(i))
        })
        .collect();
    assert_eq!(lines, expected);
    // At start the databases are listed (GET) and, this one missing, it is created by
    // POST (InfluxDB refuses writes via GET); then the node's recorded place is read,
    // and (none answered) recorded: node 1 of 1.
    let queries: Vec<_> = seen
        .lock()
        .expect("log")
        .iter()
        .filter(|r| r.target.starts_with("/query"))
        .cloned()
        .collect();
    assert_eq!(queries.len(), 3);
    assert!(
        queries[0].target.contains("SHOW+DATABASES"),
        "{}",
        queries[0].target
    );
    assert!(String::from_utf8_lossy(&queries[1].body).contains("CREATE+DATABASE"));
    assert!(
        queries[2].target.contains("cw_node"),
        "{}",
        queries[2].target
    );
    let marker: Vec<String> = seen
        .lock()
        .expect("log")
        .iter()
        .filter(|r| r.target.starts_with("/write") && r.text_body().starts_with("cw_node "))
        .map(|r| r.text_body())
        .collect();
    assert_eq!(marker.len(), 1, "{marker:?}");
    assert!(
        marker[0].starts_with("cw_node node=1i,nodes=1i "),
        "{marker:?}"
    );
}

#[tokio::test]
async fn user_and_password_go_as_u_and_p_parameters_when_no_token() {
    let (url, seen) = recording_server(204, "").await;
    let cfg = InfluxConfig {
        url,
        username: Some("ingest".into()),
        password: Some("s3cret".into()),
        // Not set: a loopback node gets plain bodies by default.
        ..InfluxConfig::default()
    };
    let store = InfluxSamples::connect(&cfg).await.expect("connect");
    let b = block(&patient_id(), &device_id(), 1, T0, 250, 1, 2);
    store.write(&[b]).await.expect("write");
    let w = &writes(&seen)[0];
    assert!(
        w.target.contains("u=ingest") && w.target.contains("p=s3cret"),
        "{}",
        w.target
    );
    assert_eq!(w.header("authorization"), None);
    assert_eq!(w.header("content-encoding"), None);
    assert_eq!(w.text_body().lines().count(), 2);
}

#[tokio::test]
async fn influx_server_errors_are_unavailable() {
    let (url, _) = recording_server(503, r#"{"error":"engine overloaded"}"#).await;
    let store = InfluxSamples::connect(&InfluxConfig {
        url,
        ..InfluxConfig::default()
    })
    .await
    .expect("connect");
    let err = store
        .write(&[block(&patient_id(), &device_id(), 1, T0, 250, 1, 2)])
        .await;
    assert!(
        matches!(&err, Err(StoreError::Unavailable(m)) if m.contains("engine overloaded")),
        "{err:?}"
    );
}

#[tokio::test]
async fn influx_client_errors_are_corrupt_with_influxdbs_message() {
    let (url, _) = recording_server(
        400,
        r#"{"error":"field type conflict: input field \"l0\" is type float"}"#,
    )
    .await;
    let store = InfluxSamples::connect(&InfluxConfig {
        url,
        ..InfluxConfig::default()
    })
    .await
    .expect("connect");
    let err = store
        .write(&[block(&patient_id(), &device_id(), 1, T0, 250, 1, 2)])
        .await;
    assert!(
        matches!(&err, Err(StoreError::Corrupt(m)) if m.contains("field type conflict")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_influxdb_is_unavailable_and_the_password_stays_out_of_the_error() {
    let port = closed_port().await;
    let cfg = InfluxConfig {
        url: format!("http://127.0.0.1:{port}"),
        username: Some("ingest".into()),
        password: Some("s3cret".into()),
        timeout_ms: 2_000,
        ..InfluxConfig::default()
    };
    let err = InfluxSamples::connect(&cfg).await.err();
    assert!(matches!(&err, Some(StoreError::Unavailable(_))), "{err:?}");
    assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
}

#[tokio::test]
async fn unreachable_mongodb_is_unavailable() {
    let port = closed_port().await;
    let cfg = cw_storage::MongoConfig {
        uri: format!("mongodb://u:s3cret@127.0.0.1:{port}/?serverSelectionTimeoutMS=300").into(),
        database: "x".into(),
        ..Default::default()
    };
    let err = cw_storage::mongo::MongoRecords::connect(&cfg).await.err();
    assert!(matches!(&err, Some(StoreError::Unavailable(_))), "{err:?}");
    assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
}

/// A loopback port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}
