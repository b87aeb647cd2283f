//! Numerics frames through ingest over real TLS (embedded store): binary on the stream and
//! JSON on the batch endpoint beside ECG frames of the same device, implausible values
//! refused with their own code, a sensor-off value stored as a status, not a reading.

use cw_core::time::now_ns;
use cw_core::{Site, VitalKind, VitalReading, VitalStatus};
use cw_e2e::ingest::{self, next_reply, send_frame};
use cw_protocol::numerics::Item;
use cw_protocol::{Frame, NackCode, NumericsFrame, Reply};

fn item(kind: VitalKind, value: f32) -> Item {
    Item {
        kind,
        site: Site::Unspecified,
        status: VitalStatus::Valid,
        offset_ms: 0,
        value: Some(value),
    }
}

#[tokio::test]
async fn numerics_beside_ecg_are_stored_and_implausible_ones_nacked_by_code() {
    let ingest = ingest::start(None, |_| {}).await;
    let (patient, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    let t0 = now_ns();

    let vitals = NumericsFrame {
        seq: 2,
        start_ns: t0,
        numerics: vec![
            item(VitalKind::Spo2, 95.0),
            Item {
                site: Site::Cuff,
                offset_ms: 500,
                ..item(VitalKind::Systolic, 132.0)
            },
            Item {
                status: VitalStatus::SensorOff,
                value: None,
                ..item(VitalKind::RespirationRate, 0.0)
            },
        ],
    };
    let zero_spo2 = NumericsFrame {
        seq: 3,
        start_ns: t0 + 1_000_000_000,
        numerics: vec![item(VitalKind::Spo2, 0.0)],
    };
    let mut unknown_kind = NumericsFrame {
        seq: 4,
        start_ns: t0,
        numerics: vec![item(VitalKind::Battery, 80.0)],
    }
    .encode();
    unknown_kind[cw_protocol::numerics::HEADER_LEN] = 99;
    // The device's one counter: an old seq is stale for numerics as for samples.
    let replayed = NumericsFrame {
        seq: 2,
        ..vitals.clone()
    };
    for bytes in [
        Frame::encode_i16(1, t0, 250, 2, false, &[100; 2 * 50]),
        vitals.encode(),
        zero_spo2.encode(),
        unknown_kind,
        Frame::encode_i16(5, t0 + 200_000_000, 250, 2, false, &[100; 2 * 50]),
        replayed.encode(),
    ] {
        send_frame(&mut socket, bytes).await;
    }
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 1 });
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 2 });
    match next_reply(&mut socket).await {
        Reply::Nack { seq, code, message } => {
            assert_eq!((seq, code), (Some(3), NackCode::ImplausibleValue));
            assert!(message.contains("sensor-off"), "{message}");
        }
        other => panic!("expected a nack, got {other:?}"),
    }
    assert!(matches!(
        next_reply(&mut socket).await,
        Reply::Nack {
            seq: Some(4),
            code: NackCode::BadFrame,
            ..
        }
    ));
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 5 });
    // Within the window a resend is stored again (idempotent) and acked.
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 2 });

    let stored = ingest
        .stores
        .samples
        .vitals(&patient, t0 - 1, t0 + 10_000_000_000)
        .await
        .expect("read");
    assert_eq!(
        stored,
        vec![
            VitalReading {
                time_ns: t0,
                kind: VitalKind::Spo2,
                site: Site::Unspecified,
                status: VitalStatus::Valid,
                value: Some(95.0),
            },
            VitalReading {
                time_ns: t0,
                kind: VitalKind::RespirationRate,
                site: Site::Unspecified,
                status: VitalStatus::SensorOff,
                value: None,
            },
            VitalReading {
                time_ns: t0 + 500_000_000,
                kind: VitalKind::Systolic,
                site: Site::Cuff,
                status: VitalStatus::Valid,
                value: Some(132.0),
            },
        ]
    );
    assert_eq!(ingest.stored_points(&patient).await, 100, "both ECG blocks");

    let metrics = ingest.metrics().await;
    assert_eq!(
        ingest::metric(&metrics, "cw_ingest_vitals_stored_total"),
        6.0,
        "3 readings, stored twice"
    );
    assert_eq!(
        ingest::metric(
            &metrics,
            "cw_ingest_nacks_total{code=\"implausible_value\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn a_json_numerics_frame_is_posted_and_an_implausible_one_is_422() {
    let ingest = ingest::start(None, |_| {}).await;
    let (patient, token) = ingest.device(1).await;
    let ca = std::fs::read(&ingest.ca).expect("CA");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
        .build()
        .expect("client");
    let url = format!("https://127.0.0.1:{}/v1/batches", ingest.addr.port());
    let t0 = now_ns();
    let post = |body: String| {
        client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let ok = post(format!(
        r#"{{"type":"numerics","seq":1,"start_ns":{t0},"numerics":[
            {{"kind":"temperature","site":"skin","value":36.4}},
            {{"kind":"fall","value":1,"offset_ms":-2000}}]}}"#
    ))
    .await
    .expect("answered");
    assert_eq!(ok.status(), reqwest::StatusCode::OK);
    let too_hot = post(format!(
        r#"{{"type":"numerics","seq":2,"start_ns":{t0},"numerics":[
            {{"kind":"temperature","site":"skin","value":52}}]}}"#
    ))
    .await
    .expect("answered");
    assert_eq!(too_hot.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    let reply: Reply = too_hot.json().await.expect("reply");
    assert!(matches!(
        reply,
        Reply::Nack {
            seq: Some(2),
            code: NackCode::ImplausibleValue,
            ..
        }
    ));
    let stored = ingest
        .stores
        .samples
        .vitals(&patient, t0 - 10_000_000_000, t0 + 1)
        .await
        .expect("read");
    let kinds: Vec<VitalKind> = stored.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, vec![VitalKind::Fall, VitalKind::Temperature]);
}
