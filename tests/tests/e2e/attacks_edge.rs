//! Attacks on the edge of the system — phones, gateways and listeners — reproduced
//! against the real service binaries (issue 13; controls in docs/security.md, "Edge").
//! Each test is named for the attack and fails if the attack succeeds.

use cw_core::audit::AuditOutcome;
use cw_core::{AlertId, AlertState, Channel, Delivery, DeliveryStatus, Priority};
use cw_e2e::notifier::{AUTH_TOKEN, NotifierHarness, Tuning};
use cw_e2e::system::Mode;
use cw_sandbox::callbacks::post_signed;

/// Medium alerts by SMS, high ones by call too; no escalation within a test's span.
const PAGES: &str = r#"[routing]
high = ["sms", "voice"]
medium = ["sms"]
low = ["in_app"]
[reliability.ack_deadline_s]
high = 600
medium = 600
low = 0
"#;

fn pages() -> Tuning {
    Tuning {
        extra: PAGES.into(),
        ..Tuning::default()
    }
}

/// The page of `alert` on `channel`, once the provider accepted it.
async fn sent_page(h: &mut NotifierHarness, alert: &AlertId, channel: Channel) -> Delivery {
    let rows = h
        .wait_deliveries(alert, "page sent", |rows| {
            rows.iter()
                .any(|d| d.channel == channel && d.status == DeliveryStatus::Sent)
        })
        .await;
    rows.into_iter()
        .find(|d| d.channel == channel && d.status == DeliveryStatus::Sent)
        .expect("sent row")
}

async fn state(h: &NotifierHarness, alert: &AlertId) -> AlertState {
    h.stores
        .records
        .get_alert(alert)
        .await
        .expect("alert read")
        .state
}

/// Finding 1: a captured, validly signed SMS reply posted again later (here after a
/// notifier restart, which must not forget it) acknowledged whatever alarm was newest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_signed_sms_ack_does_not_acknowledge_a_later_alarm() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let phone = "+15005550901";
    let (patient, _) = h.chain(&[phone]).await;
    let first = h.fire(&patient.id, Priority::Medium).await;
    h.spawn(&pages());
    sent_page(&mut h, &first.id, Channel::Sms).await;
    // The doctor's genuine reply, as Twilio signs it; the attacker keeps a copy.
    let url = h.webhook_url(cw_notifier::webhooks::SMS_PATH);
    let captured = [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("From", phone),
        ("Body", "1"),
    ];
    let (status, body) = post_signed(&h.https(), AUTH_TOKEN, &url, &captured)
        .await
        .expect("reply posted");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        state(&h, &first.id).await,
        AlertState::Acknowledged,
        "{body}"
    );

    h.spawn(&pages());
    h.wait_ready().await;
    let other = h.another_patient_like(&patient).await;
    let later = h.fire(&other.id, Priority::Medium).await;
    sent_page(&mut h, &later.id, Channel::Sms).await;
    let (_, body) = post_signed(&h.https(), AUTH_TOKEN, &url, &captured)
        .await
        .expect("replay posted");
    assert_eq!(
        state(&h, &later.id).await,
        AlertState::Firing,
        "the replayed reply silenced a later alarm: {body}"
    );
    let audit = h.stores.records.audit_events(0, 1000).await.expect("audit");
    assert!(
        audit.iter().any(|e| e.entry.action == "ack_by_sms"
            && e.entry.outcome == AuditOutcome::Denied
            && e.entry.reason.contains("replay")),
        "the replay is audited as denied: {audit:#?}"
    );
}

/// Finding 2: "1" acknowledged the newest alert paged to the phone — possibly another
/// patient's, one the doctor never read. With several open pages it must ask which one
/// and acknowledge nothing; the page's code then acknowledges exactly that alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_1_with_several_open_alerts_acknowledges_none_and_asks_which() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let phone = "+15005550911";
    let (patient, users) = h.chain(&[phone]).await;
    let other = h.another_patient_like(&patient).await;
    let read = h.fire(&patient.id, Priority::Medium).await;
    let unread = h.fire(&other.id, Priority::Medium).await;
    h.spawn(&pages());
    let read_page = sent_page(&mut h, &read.id, Channel::Sms).await;
    let unread_page = sent_page(&mut h, &unread.id, Channel::Sms).await;
    let (read_code, unread_code) = (read_page.page_code(), unread_page.page_code());
    let (status, body) = h.reply_sms(phone, "1").await;
    assert_eq!(status, 200, "{body}");
    for alert in [&read.id, &unread.id] {
        assert_eq!(
            state(&h, alert).await,
            AlertState::Firing,
            "a bare 1 picked an alert for the doctor: {body}"
        );
    }
    assert!(
        body.contains(&read_code) && body.contains(&unread_code),
        "the answer lists the open pages' codes: {body}"
    );
    let texts = h.sandbox.messages();
    assert!(
        texts.iter().any(|m| m.body.contains(&read_code)),
        "every SMS carries its page's code: {texts:#?}"
    );

    let (status, body) = h.reply_sms(phone, &read_code.to_lowercase()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        state(&h, &read.id).await,
        AlertState::Acknowledged,
        "{body}"
    );
    assert_eq!(state(&h, &unread.id).await, AlertState::Firing);
    let stored = h.stores.records.get_alert(&read.id).await.expect("alert");
    assert_eq!(stored.acked_by.as_deref(), Some(users[0].id.as_str()));
}

/// Finding 2, across phones: a page's code acknowledges only from the phone that page
/// went to. Another doctor who learned it (a forwarded text, a shared screen) replies
/// with it from their own phone and acknowledges nothing, not even their own alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_code_replied_from_another_phone_acknowledges_nothing() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (phone_a, phone_b) = ("+15005550931", "+15005550932");
    let (patient_a, _) = h.chain(&[phone_a]).await;
    let (patient_b, _) = h.chain(&[phone_b]).await;
    let alert_a = h.fire(&patient_a.id, Priority::Medium).await;
    let alert_b = h.fire(&patient_b.id, Priority::Medium).await;
    h.spawn(&pages());
    sent_page(&mut h, &alert_a.id, Channel::Sms).await;
    let code_b = sent_page(&mut h, &alert_b.id, Channel::Sms)
        .await
        .page_code();
    let (status, body) = h.reply_sms(phone_a, &code_b).await;
    assert_eq!(status, 200, "{body}");
    for alert in [&alert_a.id, &alert_b.id] {
        assert_eq!(
            state(&h, alert).await,
            AlertState::Firing,
            "a code paged to another phone acknowledged: {body}"
        );
    }
    let (status, body) = h.reply_sms(phone_b, &code_b).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        state(&h, &alert_b.id).await,
        AlertState::Acknowledged,
        "{body}"
    );
    assert_eq!(state(&h, &alert_a.id).await, AlertState::Firing);
}

/// Finding 1, by voice: a captured key press posted again is refused (CallSid seen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_key_press_is_refused() {
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let (patient, _) = h.chain(&["+15005550921"]).await;
    let alert = h.fire(&patient.id, Priority::High).await;
    h.spawn(&pages());
    let call = sent_page(&mut h, &alert.id, Channel::Voice).await;
    let sid = call.provider_id.expect("call sid");
    let (status, twiml) = h.press_key(&sid, "1").await;
    assert_eq!(status, 200, "{twiml}");
    assert!(twiml.contains("acknowledged"), "{twiml}");
    let (_, replayed) = h.press_key(&sid, "1").await;
    assert!(
        !replayed.contains("is acknowledged"),
        "a replayed key press is answered as an ack: {replayed}"
    );
    let audit = h.stores.records.audit_events(0, 1000).await.expect("audit");
    let allowed = audit
        .iter()
        .filter(|e| e.entry.action == "ack_by_voice" && e.entry.outcome == AuditOutcome::Allowed)
        .count();
    assert_eq!(allowed, 1, "one key press, one ack: {audit:#?}");
}

/// Finding 17: the embedded store was created 0644 in a 0755 directory — any local user
/// could read the records and the audit trail, or copy the file. The notifier process
/// creates it here, in a directory that does not exist yet.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_local_user_cannot_read_the_embedded_store() {
    use std::os::unix::fs::PermissionsExt;
    let mut h = NotifierHarness::new(Mode::Embedded).await;
    let data = h.dir.path().join("data").join("store");
    h.storage.path = data.join("cardiowatch.sqlite");
    h.spawn(&pages());
    h.wait_ready().await;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    for dir in [h.dir.path().join("data"), data.clone()] {
        assert_eq!(mode(&dir), 0o700, "{} is open to others", dir.display());
    }
    for name in [
        "cardiowatch.sqlite",
        "cardiowatch.sqlite-wal",
        "cardiowatch.sqlite-shm",
    ] {
        assert_eq!(
            mode(&data.join(name)),
            0o600,
            "{name} is readable by others; log:\n{}",
            h.log()
        );
    }
}

/// A sample store that fails every write while `failing` is set: storage down.
struct FlakySamples {
    inner: std::sync::Arc<dyn cw_storage::SampleStore>,
    failing: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl cw_storage::Reachable for FlakySamples {
    async fn ping(&self) -> Result<(), cw_storage::StoreError> {
        self.inner.ping().await
    }
}

/// One node, as the embedded store it wraps.
impl cw_storage::SampleNodes for FlakySamples {}

#[async_trait::async_trait]
impl cw_storage::SampleStore for FlakySamples {
    async fn write(&self, blocks: &[cw_core::SampleBlock]) -> Result<(), cw_storage::StoreError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(cw_storage::StoreError::Unavailable(
                "test: storage down".into(),
            ));
        }
        self.inner.write(blocks).await
    }
    async fn count_frames(
        &self,
        patient: &cw_core::PatientId,
        from: cw_core::time::Nanos,
        to: cw_core::time::Nanos,
    ) -> Result<u64, cw_storage::StoreError> {
        self.inner.count_frames(patient, from, to).await
    }
    async fn frames(
        &self,
        patient: &cw_core::PatientId,
        from: cw_core::time::Nanos,
        to: cw_core::time::Nanos,
    ) -> Result<Vec<(cw_core::time::Nanos, Vec<i16>)>, cw_storage::StoreError> {
        self.inner.frames(patient, from, to).await
    }
    async fn downsampled(
        &self,
        patient: &cw_core::PatientId,
        from: cw_core::time::Nanos,
        to: cw_core::time::Nanos,
    ) -> Result<Vec<cw_storage::EcgEnvelope>, cw_storage::StoreError> {
        self.inner.downsampled(patient, from, to).await
    }
}

#[async_trait::async_trait]
impl cw_storage::VitalStore for FlakySamples {
    async fn write_vitals(
        &self,
        batches: &[cw_core::VitalBatch],
    ) -> Result<(), cw_storage::StoreError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(cw_storage::StoreError::Unavailable(
                "test: storage down".into(),
            ));
        }
        self.inner.write_vitals(batches).await
    }
    async fn vitals(
        &self,
        patient: &cw_core::PatientId,
        from: cw_core::time::Nanos,
        to: cw_core::time::Nanos,
    ) -> Result<Vec<cw_core::VitalReading>, cw_storage::StoreError> {
        self.inner.vitals(patient, from, to).await
    }
}

#[async_trait::async_trait]
impl cw_storage::News2Store for FlakySamples {
    async fn write_news2(
        &self,
        patient: &cw_core::PatientId,
        scores: &[cw_core::news2::News2Assessment],
    ) -> Result<(), cw_storage::StoreError> {
        self.inner.write_news2(patient, scores).await
    }
    async fn news2(
        &self,
        patient: &cw_core::PatientId,
        from: cw_core::time::Nanos,
        to: cw_core::time::Nanos,
    ) -> Result<Vec<cw_core::news2::News2Assessment>, cw_storage::StoreError> {
        self.inner.news2(patient, from, to).await
    }
}

fn ecg_frame(seq: u64, start_ns: i64) -> Vec<u8> {
    cw_protocol::Frame::encode_i16(seq, start_ns, 250, 2, false, &[100; 2 * 50])
}

/// Finding 14: a frame with `seq = u64::MAX` raised the device's window before its write
/// failed, so every later frame of that device was refused `stale_seq` until ingest
/// restarted. An absurd seq is refused with its own code and moves nothing.
#[tokio::test]
async fn a_frame_with_seq_u64_max_does_not_lock_its_device_out() {
    use cw_e2e::ingest::{next_reply, send_frame};
    use cw_protocol::{NackCode, Reply};
    let ingest = cw_e2e::ingest::start(None, |_| {}).await;
    let (_, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    let t0 = cw_core::time::now_ns();
    send_frame(&mut socket, ecg_frame(u64::MAX, t0)).await;
    let reply = next_reply(&mut socket).await;
    assert!(
        matches!(
            reply,
            Reply::Nack {
                code: NackCode::SeqOutOfRange,
                ..
            }
        ),
        "{reply:?}"
    );
    send_frame(&mut socket, ecg_frame(10, t0 + 200_000_000)).await;
    assert_eq!(
        next_reply(&mut socket).await,
        Reply::Ack { seq: 10 },
        "the device's own next frame is still accepted"
    );
}

/// Finding 14: the window moved before the write; a frame whose write failed (storage
/// down, nacked `retry_later`) must leave the window where the last stored frame put it.
#[tokio::test]
async fn a_frame_whose_write_failed_does_not_move_the_seq_window() {
    use cw_e2e::ingest::{next_reply, send_frame};
    use cw_protocol::{NackCode, Reply};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().expect("temp dir");
    let real = cw_storage::open(&cw_storage::StorageConfig {
        path: dir.path().join("samples.sqlite"),
        key_hex: Some(cw_bus::Sealer::generate_key_hex().into()),
        ..Default::default()
    })
    .await
    .expect("store");
    let flaky = Arc::new(FlakySamples {
        inner: real.samples,
        failing: AtomicBool::new(true),
    });
    let ingest = cw_e2e::ingest::start(Some(flaky.clone()), |cfg| cfg.limits.seq_window = 10).await;
    let (_, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    let t0 = cw_core::time::now_ns();
    send_frame(&mut socket, ecg_frame(1_000, t0)).await;
    let reply = next_reply(&mut socket).await;
    assert!(
        matches!(
            reply,
            Reply::Nack {
                code: NackCode::RetryLater,
                ..
            }
        ),
        "{reply:?}"
    );
    flaky.failing.store(false, Ordering::SeqCst);
    send_frame(&mut socket, ecg_frame(5, t0 + 200_000_000)).await;
    assert_eq!(
        next_reply(&mut socket).await,
        Reply::Ack { seq: 5 },
        "a frame that was never stored must not push the window past the device's seqs"
    );
}

/// Registers `cert`'s fingerprint on device `gw-{n}` (made by `ingest.device(n)`).
async fn pin_cert(
    ingest: &cw_e2e::ingest::Ingest,
    n: u32,
    cert: &cw_tls::ClientCertFiles,
) -> cw_core::Device {
    let records = &ingest.stores.records;
    let mut device = records
        .device(&cw_core::DeviceId::parse(&format!("gw-{n}")).expect("id"))
        .await
        .expect("device");
    device.cert_sha256 = Some(cw_tls::cert_sha256_of_pem(&cert.cert).expect("fingerprint"));
    records.put_device(&device).await.expect("pinned");
    device
}

/// Finding 13: credentials were checked only at connect — a device revoked while
/// streaming kept its open stream, acked. It must be cut off within 5 s.
#[tokio::test]
async fn a_device_revoked_while_streaming_is_disconnected_within_5_s() {
    use cw_e2e::ingest::{next_reply, send_frame};
    use cw_protocol::Reply;
    let ingest = cw_e2e::ingest::start(None, |_| {}).await;
    let (_, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    let t0 = cw_core::time::now_ns();
    send_frame(&mut socket, ecg_frame(1, t0)).await;
    assert_eq!(next_reply(&mut socket).await, Reply::Ack { seq: 1 });
    let records = &ingest.stores.records;
    let mut device = records
        .device(&cw_core::DeviceId::parse("gw-1").expect("id"))
        .await
        .expect("device");
    device.revoked = true;
    records.put_device(&device).await.expect("revoked");
    let revoked_at = std::time::Instant::now();
    // Keep streaming, as a stolen gateway would: the stream must end, not be acked on.
    let mut seq = 2;
    let ended = loop {
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(5),
            "the revoked device is still streaming after 5 s"
        );
        use futures::{SinkExt, StreamExt};
        let frame = ecg_frame(seq, t0 + i64::try_from(seq).expect("small") * 200_000_000);
        seq += 1;
        if socket
            .send(tokio_tungstenite::tungstenite::Message::Binary(
                frame.into(),
            ))
            .await
            .is_err()
        {
            break "send failed";
        }
        match tokio::time::timeout(std::time::Duration::from_millis(500), socket.next()).await {
            Ok(None) | Ok(Some(Err(_))) => break "stream closed",
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))) => break "closed",
            _ => {}
        }
    };
    assert!(
        revoked_at.elapsed() < std::time::Duration::from_secs(5),
        "{ended}"
    );
}

/// Finding 13: an expired certificate whose fingerprint is pinned to a device was
/// accepted (validity was never checked without a client CA).
#[tokio::test]
async fn an_expired_pinned_client_certificate_is_refused() {
    let ingest = cw_e2e::ingest::start(None, |_| {}).await;
    ingest.device(1).await;
    let expired =
        cw_tls::make_expired_client_cert(&ingest.dir.path().join("gw"), "gw-1").expect("cert");
    pin_cert(&ingest, 1, &expired).await;
    assert!(
        ingest.open_with_cert("", &expired).await.is_err(),
        "an expired certificate streams"
    );
}

/// Finding 13: with a client CA configured, any certificate the CA issued with a device's
/// id as CN authenticated as that device — even a device pinned to one fingerprint.
#[tokio::test]
async fn a_ca_issued_certificate_cannot_impersonate_a_device_pinned_to_another_one() {
    let ca_dir = tempfile::tempdir().expect("temp dir");
    let ca = cw_tls::make_client_ca(ca_dir.path(), "gateway-ca").expect("client CA");
    let ca_path = ca.cert.clone();
    let ingest = cw_e2e::ingest::start(None, move |cfg| {
        cfg.client_certs.ca_path = Some(ca_path);
    })
    .await;
    ingest.device(1).await;
    let pinned = ca
        .issue(&ingest.dir.path().join("real"), "gw-1")
        .expect("issued");
    pin_cert(&ingest, 1, &pinned).await;
    ingest
        .open_with_cert("", &pinned)
        .await
        .expect("the pinned certificate connects");
    let other = ca
        .issue(&ingest.dir.path().join("fake"), "gw-1")
        .expect("issued");
    assert!(
        ingest.open_with_cert("", &other).await.is_err(),
        "another CA-issued certificate with the pinned device's CN streams as it"
    );
}

/// A TLS connection to `ingest`'s listener, handshake done, nothing sent yet.
async fn tls_to(
    ingest: &cw_e2e::ingest::Ingest,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let config = cw_tls::client_config(&ingest.ca).expect("client config");
    let tcp = tokio::net::TcpStream::connect(ingest.addr).await?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").expect("name");
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// Whether the server closed `stream` within `within` (EOF or a reset on read).
async fn closed_within(
    stream: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    within: std::time::Duration,
) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or other answer before the close is fine: keep reading to the end.
            Ok(Ok(_)) => continue,
        }
    }
}

/// Finding 7: half-sent request headers held a connection (and its task) for over
/// 70 s. With a 1 s header deadline the listener cuts it off.
#[tokio::test]
async fn half_sent_headers_are_cut_off_at_the_header_deadline() {
    use tokio::io::AsyncWriteExt;
    let ingest = cw_e2e::ingest::start(None, |cfg| {
        cfg.tls.connections.header_read_timeout_ms = 1_000;
    })
    .await;
    let mut slow = tls_to(&ingest).await.expect("handshake");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-slow: ")
        .await
        .expect("half a request");
    assert!(
        closed_within(&mut slow, std::time::Duration::from_secs(4)).await,
        "half-sent headers are still held after 4 s"
    );
}

/// Finding 7: a connection that says nothing at all was never closed.
#[tokio::test]
async fn a_silent_connection_is_closed_at_the_idle_timeout() {
    let ingest = cw_e2e::ingest::start(None, |cfg| {
        cfg.tls.connections.idle_timeout_s = 1;
    })
    .await;
    let mut silent = tls_to(&ingest).await.expect("handshake");
    assert!(
        closed_within(&mut silent, std::time::Duration::from_secs(4)).await,
        "a silent connection is still open after 4 s"
    );
}

/// Finding 7: there was no connection cap: one client could open sockets until the
/// service ran out of descriptors. Over its per-client cap a connection is refused, and
/// the others keep working.
#[tokio::test]
async fn one_client_cannot_open_more_connections_than_its_cap() {
    let ingest = cw_e2e::ingest::start(None, |cfg| {
        cfg.tls.connections.max_per_client = 4;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tls_to(&ingest).await.expect("within the cap"));
    }
    let over = match tls_to(&ingest).await {
        Err(_) => true,
        Ok(mut extra) => closed_within(&mut extra, std::time::Duration::from_secs(2)).await,
    };
    assert!(over, "a fifth connection from one address was served");
    drop(held.pop());
    // The freed place is taken again (the count is released on close).
    let mut again = None;
    for _ in 0..50 {
        if let Ok(mut s) = tls_to(&ingest).await
            && !closed_within(&mut s, std::time::Duration::from_millis(200)).await
        {
            again = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a closed connection frees its place");
}

/// Finding 8's ingest twin: ingest left tungstenite's frame limit at its 16 MiB default,
/// and tungstenite reserves a frame's declared length as soon as its header arrives,
/// before the 65 KiB message limit is checked. So a gateway could send one header
/// announcing a 16 MiB frame, trickle the payload, and make ingest hold 16 MiB per
/// connection. The header alone must now be refused: close 1009, nothing reserved, and
/// ingest goes on serving.
#[tokio::test]
async fn a_frame_header_announcing_16_mib_is_closed_with_1009_before_its_payload() {
    use cw_e2e::ingest::{next_reply, send_frame};
    use cw_protocol::Reply;
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::tungstenite::Message;
    let ingest = cw_e2e::ingest::start(None, |_| {}).await;
    let (_, token) = ingest.device(1).await;
    let mut socket = ingest.open(&token).await.expect("connects");
    // A masked binary frame header (RFC 6455 §5.2): FIN + opcode 2, mask bit + 64-bit
    // length of 16 MiB, the masking key. No payload follows.
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(16u64 << 20).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    let raw = socket.get_mut();
    raw.write_all(&header).await.expect("header sent");
    raw.flush().await.expect("header flushed");
    let close = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(Message::Text(text))) => panic!("a reply instead of a close: {text}"),
                Some(Ok(_)) => continue,
                other => panic!("the connection ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("ingest waited for the 16 MiB payload instead of refusing the header");
    let close = close.expect("the close frame carries a code");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
    // Ingest is unharmed: a new stream of the same device is served.
    let mut again = ingest.open(&token).await.expect("reconnects");
    send_frame(&mut again, ecg_frame(1, cw_core::time::now_ns())).await;
    assert_eq!(next_reply(&mut again).await, Reply::Ack { seq: 1 });
}

/// Finding 10: anyone who reached the api or ingest port could read `/metrics`. Now the
/// public listeners answer 404 and only the admin listener serves it.
#[tokio::test]
async fn metrics_are_not_served_on_the_public_api_or_ingest_listener() {
    let api = cw_e2e::api::ApiHarness::start(Mode::Embedded).await;
    let status = |response: reqwest::Response| response.status().as_u16();
    let public = api.http.get(api.url("/metrics")).send().await;
    assert_eq!(public.map(status).expect("api answers"), 404, "api port");
    let admin = api.http.get(api.admin_url("/metrics")).send().await;
    let text = admin.expect("admin answers").text().await.expect("text");
    assert!(text.contains("cw_api_live_connections"), "{text}");

    let ingest = cw_e2e::ingest::start(None, |_| {}).await;
    let ca = std::fs::read(&ingest.ca).expect("CA");
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA parses"))
        .build()
        .expect("client");
    let public = http
        .get(format!("https://127.0.0.1:{}/metrics", ingest.addr.port()))
        .send()
        .await;
    assert_eq!(
        public.map(status).expect("ingest answers"),
        404,
        "ingest port"
    );
    assert!(
        ingest.metrics().await.contains("cw_ingest_frames_total"),
        "served on ingest's admin listener"
    );
}

/// Finding 10: each made-up HTTP method became a label value, so a client could create
/// metric series without bound. Now every non-standard method is counted as `other`.
#[tokio::test]
async fn made_up_http_methods_do_not_create_metric_series() {
    let api = cw_e2e::api::ApiHarness::start(Mode::Embedded).await;
    const TRIES: usize = 30;
    for i in 0..TRIES {
        let method = reqwest::Method::from_bytes(format!("ATTACK{i}").as_bytes()).expect("token");
        api.http
            .request(method, api.url("/v1/patients"))
            .send()
            .await
            .expect("the api answers");
    }
    let text = api
        .http
        .get(api.admin_url("/metrics"))
        .send()
        .await
        .expect("admin answers")
        .text()
        .await
        .expect("text");
    assert!(
        !text.contains("ATTACK"),
        "a made-up method is a label: {text}"
    );
    let other: u64 = text
        .lines()
        .filter(|l| l.starts_with("cw_api_requests_total{method=\"other\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(other, TRIES as u64, "{text}");
}
