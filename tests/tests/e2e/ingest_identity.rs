//! Device identity at ingest over real TLS: a gateway whose client-certificate
//! fingerprint is registered streams without a token; unknown and revoked certificates
//! and tokens are refused before the WebSocket upgrade; revoking takes effect on the
//! next connection.

use cw_core::time::now_ns;
use cw_e2e::ingest::{self, Ingest, Socket, next_reply, send_frame};
use cw_protocol::{Frame, Reply};

async fn ack_of_one_frame(socket: &mut Socket) -> Reply {
    send_frame(
        socket,
        Frame::encode_i16(1, now_ns(), 250, 1, false, &[10; 50]),
    )
    .await;
    next_reply(socket).await
}

async fn register_cert(ingest: &Ingest, n: u32) -> (cw_core::Device, cw_tls::ClientCertFiles) {
    let (_patient, _token) = ingest.device(n).await;
    let cert = cw_tls::make_client_cert(&ingest.dir.path().join("gw"), &format!("gw-{n}"))
        .expect("client cert");
    let records = &ingest.stores.records;
    let mut device = records
        .device(&cw_core::DeviceId::parse(&format!("gw-{n}")).expect("id"))
        .await
        .expect("device");
    device.cert_sha256 = Some(cw_tls::cert_sha256_of_pem(&cert.cert).expect("fingerprint"));
    records.put_device(&device).await.expect("registered");
    (device, cert)
}

fn refused(result: anyhow::Result<Socket>) -> String {
    result.err().expect("refused").to_string()
}

#[tokio::test]
async fn a_registered_client_certificate_streams_without_a_token() {
    let ingest = ingest::start(None, |_| {}).await;
    let (_, cert) = register_cert(&ingest, 1).await;
    let mut socket = ingest
        .open_with_cert("", &cert)
        .await
        .expect("mTLS connects");
    assert_eq!(ack_of_one_frame(&mut socket).await, Reply::Ack { seq: 1 });
}

#[tokio::test]
async fn an_unregistered_client_certificate_is_refused_and_audited() {
    let ingest = ingest::start(None, |_| {}).await;
    let stranger =
        cw_tls::make_client_cert(&ingest.dir.path().join("x"), "stranger").expect("client cert");
    let err = refused(ingest.open_with_cert("", &stranger).await);
    assert!(err.contains("401"), "{err}");

    // The refusal is in the audit trail, naming the certificate by fingerprint.
    let fingerprint = cw_tls::cert_sha256_of_pem(&stranger.cert).expect("fingerprint");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let events = ingest
            .stores
            .records
            .audit_events(0, 100)
            .await
            .expect("audit");
        if let Some(e) = events
            .iter()
            .find(|e| e.entry.actor.ends_with(&fingerprint))
        {
            assert_eq!(e.entry.outcome, cw_core::audit::AuditOutcome::Denied);
            assert_eq!(e.entry.status, 401);
            assert!(e.entry.source.starts_with("127.0.0.1:"), "{:?}", e.entry);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "refusal audited: {events:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_revoked_certificate_or_token_is_refused_on_the_next_connection() {
    let ingest = ingest::start(None, |_| {}).await;
    let (device, cert) = register_cert(&ingest, 1).await;
    let (_, token) = ingest.device(2).await;
    let mut open = ingest.open_with_cert("", &cert).await.expect("connects");
    assert_eq!(ack_of_one_frame(&mut open).await, Reply::Ack { seq: 1 });
    ingest.open(&token).await.expect("token connects");

    let records = &ingest.stores.records;
    records
        .put_device(&cw_core::Device {
            revoked: true,
            ..device
        })
        .await
        .expect("revoked");
    let mut token_device = records
        .device(&cw_core::DeviceId::parse("gw-2").expect("id"))
        .await
        .expect("device");
    token_device.revoked = true;
    records.put_device(&token_device).await.expect("revoked");

    assert!(refused(ingest.open_with_cert("", &cert).await).contains("401"));
    assert!(refused(ingest.open(&token).await).contains("401"));
}

#[tokio::test]
async fn no_token_and_no_certificate_is_refused() {
    let ingest = ingest::start(None, |_| {}).await;
    assert!(refused(ingest.open("").await).contains("401"));
}

#[tokio::test]
async fn with_a_client_ca_a_certificate_it_issued_names_its_device_by_cn() {
    let ca_dir = tempfile::tempdir().expect("temp dir");
    let ca = cw_tls::make_client_ca(ca_dir.path(), "gateway-ca").expect("client CA");
    let ca_path = ca.cert.clone();
    let ingest = ingest::start(None, move |cfg| {
        cfg.client_certs.ca_path = Some(ca_path);
    })
    .await;
    let (_, _token) = ingest.device(5).await;
    let issued = ca
        .issue(&ingest.dir.path().join("gw"), "gw-5")
        .expect("issued");
    let mut socket = ingest
        .open_with_cert("", &issued)
        .await
        .expect("CA-issued certificate connects");
    assert_eq!(ack_of_one_frame(&mut socket).await, Reply::Ack { seq: 1 });

    // Issued for a device id nobody registered: refused.
    let stranger = ca
        .issue(&ingest.dir.path().join("x"), "gw-unknown")
        .expect("issued");
    assert!(refused(ingest.open_with_cert("", &stranger).await).contains("401"));

    // Revoking the device refuses its CA-issued certificate too.
    let records = &ingest.stores.records;
    let mut device = records
        .device(&cw_core::DeviceId::parse("gw-5").expect("id"))
        .await
        .expect("device");
    device.revoked = true;
    records.put_device(&device).await.expect("revoked");
    assert!(refused(ingest.open_with_cert("", &issued).await).contains("401"));
}
