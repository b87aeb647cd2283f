//! `POST https://…/v1/batches` over real TLS: one block per request as the binary frame
//! or as JSON, the reply's HTTP status by code, and only acked blocks stored.

use cw_core::time::now_ns;
use cw_e2e::ingest::{self, Ingest};
use cw_protocol::{Frame, NackCode, Reply};
use reqwest::StatusCode;

fn client(ingest: &Ingest) -> reqwest::Client {
    let ca = std::fs::read(&ingest.ca).expect("CA");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
        .build()
        .expect("client")
}

async fn post(
    ingest: &Ingest,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Reply) {
    let url = format!("https://127.0.0.1:{}/v1/batches", ingest.addr.port());
    let response = client(ingest)
        .post(url)
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("answered");
    let status = response.status();
    (status, response.json().await.expect("reply JSON"))
}

fn json(seq: u64, start_ns: i64, leads: u8, samples_mv: Vec<f32>) -> Vec<u8> {
    serde_json::to_vec(&Frame {
        seq,
        start_ns,
        rate_hz: 250,
        leads,
        lead_off: false,
        samples_mv,
    })
    .expect("JSON")
}

#[tokio::test]
async fn binary_and_json_blocks_are_acked_and_bad_ones_get_their_status() {
    let ingest = ingest::start(None, |_| {}).await;
    let (patient, token) = ingest.device(1).await;
    let t0 = now_ns();
    let binary = Frame::encode_i16(1, t0, 250, 2, false, &[100; 2 * 50]);
    assert_eq!(
        post(&ingest, &token, "application/octet-stream", binary).await,
        (StatusCode::OK, Reply::Ack { seq: 1 })
    );
    let next = t0 + 200_000_000;
    assert_eq!(
        post(
            &ingest,
            &token,
            "application/json",
            json(2, next, 2, vec![0.1; 100])
        )
        .await,
        (StatusCode::OK, Reply::Ack { seq: 2 })
    );

    let (status, reply) = post(
        &ingest,
        &token,
        "application/json",
        json(3, next + 200_000_000, 2, vec![0.1; 99]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(matches!(
        reply,
        Reply::Nack {
            code: NackCode::BadFrame,
            ..
        }
    ));
    let (status, _) = post(&ingest, &token, "application/json", b"{not json".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Over the HTTP body limit: still the protocol's typed JSON answer.
    let (status, reply) = post(
        &ingest,
        &token,
        "application/octet-stream",
        vec![0; 3 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(matches!(
        reply,
        Reply::Nack {
            seq: None,
            code: NackCode::TooLarge,
            ..
        }
    ));
    let (status, reply) = post(
        &ingest,
        &token,
        "application/json",
        json(4, next + 400_000_000, 2, vec![25.0; 100]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(matches!(
        reply,
        Reply::Nack {
            code: NackCode::ValueOutOfRange,
            ..
        }
    ));

    let stored = ingest.stored_points(&patient).await;
    assert_eq!(stored, 100, "the two acked blocks of 50 instants");
}

/// What a gateway writer met: JSON posted as `text/plain` was read as a binary frame and
/// its nack carried a seq made of the JSON's bytes. Now `seq` is null unless a binary
/// header of our version was read, and the message says what to fix; a block of 0
/// samples per lead is nacked, not acked.
#[tokio::test]
async fn json_sent_as_text_plain_gets_a_null_seq_and_an_empty_block_is_nacked() {
    let ingest = ingest::start(None, |_| {}).await;
    let (patient, token) = ingest.device(1).await;
    let t0 = now_ns();
    let block = json(1, t0, 2, vec![0.1; 100]);
    let (status, reply) = post(&ingest, &token, "text/plain", block.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    match reply {
        Reply::Nack { seq, code, message } => {
            assert_eq!((seq, code), (None, NackCode::BadFrame), "{message}");
            assert!(message.contains("application/json"), "{message}");
        }
        other => panic!("acked JSON read as a binary frame: {other:?}"),
    }
    assert_eq!(
        post(&ingest, &token, "application/json", block).await,
        (StatusCode::OK, Reply::Ack { seq: 1 }),
        "the same block with its content type"
    );

    let step = 200_000_000;
    let (status, reply) = post(
        &ingest,
        &token,
        "application/json",
        json(2, t0 + step, 2, vec![]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        matches!(
            reply,
            Reply::Nack {
                seq: Some(2),
                code: NackCode::BadFrame,
                ..
            }
        ),
        "{reply:?}"
    );
    let empty = Frame::encode_i16(3, t0 + 2 * step, 250, 2, false, &[]);
    let (status, reply) = post(&ingest, &token, "application/octet-stream", empty).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        matches!(
            reply,
            Reply::Nack {
                seq: Some(3),
                code: NackCode::BadFrame,
                ..
            }
        ),
        "{reply:?}"
    );
    // A header of a frame type we do not know (1 is samples, 2 numerics): its bytes
    // 4..12 are no seq of ours.
    let mut other_version = Frame::encode_i16(4, t0 + 3 * step, 250, 2, false, &[1; 4]);
    other_version[0] = 3;
    let (_, reply) = post(&ingest, &token, "application/octet-stream", other_version).await;
    assert!(
        matches!(
            reply,
            Reply::Nack {
                seq: None,
                code: NackCode::BadFrame,
                ..
            }
        ),
        "{reply:?}"
    );
    assert_eq!(
        ingest.stored_points(&patient).await,
        50,
        "only the acked block"
    );
}

#[tokio::test]
async fn a_batch_without_valid_credentials_is_refused() {
    let ingest = ingest::start(None, |_| {}).await;
    let url = format!("https://127.0.0.1:{}/v1/batches", ingest.addr.port());
    let response = client(&ingest)
        .post(url)
        .bearer_auth("f".repeat(64))
        .body(Frame::encode_i16(1, now_ns(), 250, 1, false, &[1; 50]))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
