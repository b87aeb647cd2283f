//! Ingest over real TLS WebSockets, in process with the embedded store: per-frame replies,
//! bad frames refused without harm to the connection or to other gateways, unknown
//! devices turned away.

use cw_core::time::now_ns;
use cw_e2e::ingest::{self, Ingest, next_reply, send_frame};
use cw_protocol::{Frame, NackCode, Reply};

async fn start_ingest() -> Ingest {
    ingest::start(None, |_| {}).await
}

fn good(seq: u64, start_ns: i64) -> Vec<u8> {
    Frame::encode_i16(seq, start_ns, 250, 2, false, &[100; 2 * 50])
}

#[tokio::test]
async fn bad_frames_are_nacked_by_code_and_the_stream_goes_on() {
    let ingest = start_ingest().await;
    let (patient, token) = ingest.device(1).await;
    let (other_patient, other_token) = ingest.device(2).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    let mut other = ingest
        .open(&other_token)
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
        send_frame(&mut socket, bytes).await;
    }
    // The other gateway streams meanwhile; its frames share batches with the first's.
    for seq in 1..=40 {
        send_frame(&mut other, good(seq, t0 + seq as i64 * frame_ns)).await;
    }

    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 1 });
    assert!(matches!(
        next_reply(&mut socket).await,
        Reply::Nack {
            seq: Some(2),
            code: NackCode::ValueOutOfRange,
            ..
        }
    ));
    assert!(matches!(
        next_reply(&mut socket).await,
        Reply::Nack {
            seq: Some(3),
            code: NackCode::BadFrame,
            ..
        }
    ));
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 4 });
    assert!(matches!(
        next_reply(&mut socket).await,
        Reply::Nack {
            seq: Some(5),
            code: NackCode::ClockSkew,
            ..
        }
    ));
    for seq in 1..=40 {
        assert_eq!(
            next_reply(&mut other).await,
            Reply::Ack { seq },
            "the other gateway is unaffected, its replies in order"
        );
    }

    let stored = ingest.stored_points(&patient).await;
    assert_eq!(stored, 100, "exactly the two acked frames are stored");
    let other_stored = ingest.stored_points(&other_patient).await;
    assert_eq!(other_stored, 40 * 50);

    let metrics = ingest.metrics().await;
    for (code, count) in [
        ("value_out_of_range", 1.0),
        ("bad_frame", 1.0),
        ("clock_skew", 1.0),
        ("retry_later", 0.0),
    ] {
        assert_eq!(
            ingest::metric(
                &metrics,
                &format!("cw_ingest_nacks_total{{code=\"{code}\"}}")
            ),
            count,
            "nacks of {code}"
        );
    }
    assert_eq!(ingest::metric(&metrics, "cw_ingest_acks_total"), 42.0);
    assert_eq!(ingest::metric(&metrics, "cw_ingest_frames_total"), 45.0);
    assert_eq!(ingest::metric(&metrics, "cw_ingest_queue_depth"), 0.0);
    assert!(ingest::metric(&metrics, "cw_ingest_batches_written_total") >= 1.0);
}

#[tokio::test]
async fn a_resent_frame_is_acked_again_and_stored_once() {
    let ingest = start_ingest().await;
    let (patient, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    let t0 = now_ns();
    for _ in 0..2 {
        send_frame(&mut socket, good(1, t0)).await;
        assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 1 });
    }
    let stored = ingest.stored_points(&patient).await;
    assert_eq!(stored, 50);
}

#[tokio::test]
async fn unknown_device_token_is_refused_before_the_upgrade() {
    let ingest = start_ingest().await;
    let err = ingest
        .open("not-a-registered-token")
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("401"), "{err}");
}

#[tokio::test]
async fn a_seq_older_than_the_devices_window_is_nacked_stale() {
    let ingest = ingest::start(None, |cfg| cfg.limits.seq_window = 10).await;
    let (patient, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    let t0 = now_ns();
    // The window moves when a frame is stored: 100 is acked before the others go.
    send_frame(&mut socket, good(100, t0)).await;
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 100 });
    for (seq, at) in [(90, 1), (89, 2), (95, 3)] {
        send_frame(&mut socket, good(seq, t0 + at * 200_000_000)).await;
    }
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 90 });
    assert!(matches!(
        next_reply(&mut socket).await,
        Reply::Nack {
            seq: Some(89),
            code: NackCode::StaleSeq,
            ..
        }
    ));
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 95 });
    let stored = ingest.stored_points(&patient).await;
    assert_eq!(stored, 3 * 50, "the stale frame is not stored");
}

#[tokio::test]
async fn a_second_simulator_run_for_the_same_device_is_not_refused_as_stale() {
    let ingest = ingest::start(None, |cfg| cfg.limits.seq_window = 10).await;
    let (_, token) = ingest.device(1).await;
    for run in 0..2 {
        let mut opts = ingest.gateway_options(&token, ingest::record_100());
        opts.seconds = Some(30.0);
        opts.speed = 1000.0;
        opts.window = 16;
        let stats = std::sync::Arc::new(cardiowatch::gateway::GatewayStats::default());
        cardiowatch::gateway::stream_record(
            opts,
            stats.clone(),
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .expect("streams");
        let nacked = stats.nacked.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(nacked, 0, "run {run}: no frame refused");
        assert_eq!(stats.acked.load(std::sync::atomic::Ordering::Relaxed), 120);
    }
}

#[tokio::test]
async fn the_simulator_stops_with_a_clear_error_when_ingest_refuses_its_token() {
    let ingest = start_ingest().await;
    let mut opts = ingest.gateway_options("not-a-registered-token", ingest::record_100());
    opts.seconds = Some(5.0);
    opts.speed = 1000.0;
    let stats = std::sync::Arc::new(cardiowatch::gateway::GatewayStats::default());
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        cardiowatch::gateway::stream_record(
            opts,
            stats.clone(),
            tokio_util::sync::CancellationToken::new(),
        ),
    )
    .await
    .expect("gives up instead of retrying a refusal forever");
    let err = outcome.expect_err("refused").to_string();
    assert!(err.contains("401") && err.contains("credentials"), "{err}");
    assert_eq!(stats.acked.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test]
async fn frames_larger_than_the_socket_read_buffer_are_acked_and_over_64_kib_nacked_too_large() {
    let ingest = start_ingest().await;
    let (patient, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    let t0 = now_ns();
    // 2 leads × 8,000 samples at 1 kHz: 32 KB, twice ingest's 16 KiB read buffer.
    let big = Frame::encode_i16(1, t0, 1000, 2, false, &[100; 2 * 8_000]);
    assert!(big.len() > 16 * 1024);
    send_frame(&mut socket, big).await;
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 1 });
    // Just over the protocol's 64 KiB: answered, not a dropped connection.
    let too_big = Frame::encode_i16(2, t0 + 8_000_000_000, 1000, 2, false, &[100; 2 * 16_400]);
    assert!(too_big.len() > 64 * 1024);
    send_frame(&mut socket, too_big).await;
    assert!(matches!(
        next_reply(&mut socket).await,
        Reply::Nack {
            code: NackCode::TooLarge,
            ..
        }
    ));
    send_frame(&mut socket, good(3, t0 + 20_000_000_000)).await;
    assert_eq!(
        next_reply(&mut socket).await,
        Reply::Ack { seq: 3 },
        "the connection goes on"
    );
    assert_eq!(ingest.stored_points(&patient).await, 8_000 + 50);
}

/// A block of 0 samples per lead would store nothing, so an ack would vouch for nothing:
/// it is nacked `bad_frame` with its seq, and the stream goes on.
#[tokio::test]
async fn a_frame_with_no_samples_is_nacked_not_acked() {
    let ingest = start_ingest().await;
    let (patient, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    let t0 = now_ns();
    send_frame(&mut socket, Frame::encode_i16(1, t0, 250, 2, false, &[])).await;
    let reply = next_reply(&mut socket).await;
    assert!(
        matches!(
            reply,
            Reply::Nack {
                seq: Some(1),
                code: NackCode::BadFrame,
                ..
            }
        ),
        "{reply:?}"
    );
    send_frame(&mut socket, good(2, t0)).await;
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 2 });
    assert_eq!(ingest.stored_points(&patient).await, 50);
}

/// A message over the WebSocket limit (64 KiB + 1 KiB of slack) cannot be read into a
/// frame: the gateway gets close code 1009 (message too big), not a dropped connection.
#[tokio::test]
async fn a_message_over_the_limit_is_closed_with_1009() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let ingest = start_ingest().await;
    let (_, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    send_frame(&mut socket, vec![1u8; 128 * 1024]).await;
    let close = loop {
        match socket.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Text(text))) => panic!("a reply instead of a close: {text}"),
            Some(Ok(_)) => continue,
            other => panic!("the connection ended without a close frame: {other:?}"),
        }
    };
    let close = close.expect("the close frame carries a code");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
}
