//! Ingest over real TLS WebSockets, in process with the embedded store: per-frame replies,
//! bad frames refused without harm to the connection or to other gateways, unknown
//! devices turned away.

use cardiowatch::fixture::{self, FixtureSpec};
use cardiowatch::gateway::{self, GatewayOptions};
use cw_core::time::now_ns;
use cw_protocol::{Frame, NackCode, Reply};
use futures::{SinkExt, StreamExt};
use std::path::PathBuf;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

struct Ingest {
    _dir: tempfile::TempDir,
    stores: cw_storage::Stores,
    url: String,
    ca: PathBuf,
    _shutdown: tokio_util::sync::DropGuard,
}

async fn start_ingest() -> Ingest {
    cw_tls::install_default_crypto();
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = cw_tls::ensure_dev_certs(&dir.path().join("certs")).expect("certs");
    let storage = cw_storage::StorageConfig {
        path: dir.path().join("store.sqlite"),
        ..Default::default()
    };
    let stores = cw_storage::open(&storage).await.expect("store");
    let shutdown = CancellationToken::new();
    let running = cw_ingest::start(
        cw_ingest::IngestConfig {
            listen: "127.0.0.1:0".into(),
            tls: cw_tls::TlsServerConfig {
                cert_path: certs.server_cert.clone(),
                key_path: certs.server_key.clone(),
                insecure_plaintext: false,
            },
            publish_endpoint: "tcp://127.0.0.1:0".into(),
            storage,
            bus: cw_bus::BusConfig {
                key_id: 1,
                key_hex: Some(cw_bus::Sealer::generate_key_hex()),
                ..Default::default()
            },
            ..Default::default()
        },
        stores.clone(),
        shutdown.clone(),
    )
    .await
    .expect("ingest starts");
    Ingest {
        url: format!("wss://127.0.0.1:{}/v1/stream", running.addr.port()),
        ca: certs.ca_cert,
        stores,
        _dir: dir,
        _shutdown: shutdown.drop_guard(),
    }
}

async fn device(ingest: &Ingest, n: u32) -> (cw_core::PatientId, String) {
    let f = fixture::install(
        ingest.stores.records.as_ref(),
        &FixtureSpec {
            patient_id: &format!("patient-{n}"),
            doctor_id: "dr-1",
            device_id: &format!("gw-{n}"),
            phone: None,
            email: None,
            hr_high_bpm: 120.0,
            for_s: 0.0,
        },
    )
    .await
    .expect("fixture");
    (f.patient.id, f.device_token)
}

async fn open(ingest: &Ingest, token: &str) -> anyhow::Result<gateway::Socket> {
    let opts = GatewayOptions {
        url: ingest.url.clone(),
        device_token: token.into(),
        ca_cert: Some(ingest.ca.clone()),
        record: PathBuf::new(),
        speed: 1.0,
        seconds: None,
        offset_s: 0.0,
        block_ms: 250,
        window: 1,
    };
    let connector = tokio_rustls::TlsConnector::from(cw_tls::client_config(&ingest.ca)?);
    gateway::connect(&opts, Some(&connector)).await
}

fn good(seq: u64, start_ns: i64) -> Vec<u8> {
    Frame::encode_i16(seq, start_ns, 250, 2, false, &[100; 2 * 50])
}

async fn reply(socket: &mut gateway::Socket) -> Reply {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).expect("reply is JSON");
            }
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn bad_frames_are_nacked_by_code_and_the_stream_goes_on() {
    let ingest = start_ingest().await;
    let (patient, token) = device(&ingest, 1).await;
    let (_, other_token) = device(&ingest, 2).await;
    let mut socket = open(&ingest, &token).await.expect("connects");
    let mut other = open(&ingest, &other_token)
        .await
        .expect("second gateway connects");
    let t0 = now_ns();
    let frame_ns = 200_000_000; // 50 samples at 250 Hz

    let too_hot = Frame::encode_i16(2, t0 + frame_ns, 250, 2, false, &[25_000; 2 * 50]);
    let mut garbage = good(3, t0 + 2 * frame_ns);
    garbage.truncate(40);
    let future = good(5, t0 + 3_600_000_000_000);
    for bytes in [
        good(1, t0),
        too_hot,
        garbage,
        good(4, t0 + 3 * frame_ns),
        future,
    ] {
        socket
            .send(Message::Binary(bytes.into()))
            .await
            .expect("sent");
    }
    other
        .send(Message::Binary(good(1, t0).into()))
        .await
        .expect("sent");

    assert_eq!(reply(&mut socket).await, Reply::Ack { seq: 1 });
    assert!(matches!(
        reply(&mut socket).await,
        Reply::Nack {
            seq: Some(2),
            code: NackCode::ValueOutOfRange,
            ..
        }
    ));
    assert!(matches!(
        reply(&mut socket).await,
        Reply::Nack {
            seq: Some(3),
            code: NackCode::BadFrame,
            ..
        }
    ));
    assert_eq!(reply(&mut socket).await, Reply::Ack { seq: 4 });
    assert!(matches!(
        reply(&mut socket).await,
        Reply::Nack {
            seq: Some(5),
            code: NackCode::ClockSkew,
            ..
        }
    ));
    assert_eq!(
        reply(&mut other).await,
        Reply::Ack { seq: 1 },
        "the other gateway is unaffected"
    );

    let stored = ingest
        .stores
        .samples
        .count_frames(&patient, 0, i64::MAX)
        .await
        .expect("count");
    assert_eq!(stored, 100, "exactly the two acked frames are stored");
}

#[tokio::test]
async fn a_resent_frame_is_acked_again_and_stored_once() {
    let ingest = start_ingest().await;
    let (patient, token) = device(&ingest, 1).await;
    let mut socket = open(&ingest, &token).await.expect("connects");
    let t0 = now_ns();
    for _ in 0..2 {
        socket
            .send(Message::Binary(good(1, t0).into()))
            .await
            .expect("sent");
        assert_eq!(reply(&mut socket).await, Reply::Ack { seq: 1 });
    }
    let stored = ingest
        .stores
        .samples
        .count_frames(&patient, 0, i64::MAX)
        .await
        .expect("count");
    assert_eq!(stored, 50);
}

#[tokio::test]
async fn unknown_device_token_is_refused_before_the_upgrade() {
    let ingest = start_ingest().await;
    let err = open(&ingest, "not-a-registered-token")
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("401"), "{err}");
}
