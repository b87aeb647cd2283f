//! The admin device endpoints, the ECG range query, secure response headers and request
//! metrics, against the real stores.

use cw_core::device::token_sha256;
use cw_core::time::NANOS_PER_SEC;
use cw_core::{DeviceId, Role, SampleBlock};
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use serde_json::{Value, json};

async fn devices_register_pin_reissue_and_revoke(mode: Mode) {
    let h = ApiHarness::start(mode).await;
    let admin = h.token(&h.admin, Role::Admin);
    let registered = h
        .http
        .post(h.url("/v1/devices"))
        .bearer_auth(&admin)
        .json(&json!({"patient": h.own.as_str()}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201);
    let registered: Value = registered.json().await.expect("json");
    let id = DeviceId::parse(registered["device"]["id"].as_str().expect("id")).expect("valid");
    let first = registered["token"].as_str().expect("token").to_owned();
    let stored = h
        .stores
        .records
        .device_by_token_hash(&token_sha256(&first))
        .await
        .expect("ingest finds the device by its token");
    assert_eq!(stored.patient, h.own);
    let patient = h.stores.records.patient(&h.own).await.expect("patient");
    assert!(patient.devices.contains(&id));

    let fp = "AB:".repeat(31) + "AB";
    let pinned: Value = h
        .http
        .put(h.url(&format!("/v1/devices/{id}/certificate")))
        .bearer_auth(&admin)
        .json(&json!({ "cert_sha256": fp }))
        .send()
        .await
        .expect("pin")
        .json()
        .await
        .expect("json");
    assert_eq!(pinned["cert_sha256"], "ab".repeat(32));
    assert_eq!(
        h.stores
            .records
            .device_by_cert_sha256(&"ab".repeat(32))
            .await
            .expect("by certificate")
            .id,
        id
    );

    let reissued: Value = h
        .http
        .post(h.url(&format!("/v1/devices/{id}/token")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let second = reissued["token"].as_str().expect("token");
    assert_ne!(second, first);
    assert!(
        h.stores
            .records
            .device_by_token_hash(&token_sha256(&first))
            .await
            .is_err(),
        "the old token no longer finds the device"
    );

    let revoked = h
        .http
        .post(h.url(&format!("/v1/devices/{id}/revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);
    assert!(h.stores.records.device(&id).await.expect("device").revoked);
    let listed: Value = h
        .http
        .get(h.url("/v1/devices"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let listed = listed.as_array().expect("array");
    assert!(
        listed
            .iter()
            .any(|d| d["id"] == id.as_str() && d["revoked"] == true)
    );
    assert!(listed.iter().all(|d| d.get("token_sha256").is_none()));
}

#[tokio::test]
async fn embedded_devices_register_pin_reissue_and_revoke() {
    devices_register_pin_reissue_and_revoke(Mode::Embedded).await;
}

#[tokio::test]
async fn servers_devices_register_pin_reissue_and_revoke() {
    devices_register_pin_reissue_and_revoke(Mode::Servers).await;
}

#[tokio::test]
async fn ecg_range_is_raw_when_short_and_min_max_per_bucket_when_long() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let start = cw_e2e::env::recent_second() * NANOS_PER_SEC;
    // 10 s at 250 Hz, two leads; lead 0 spikes to 2000 µV once per second.
    let samples: Vec<i16> = (0..2500)
        .flat_map(|i| [if i % 250 == 0 { 2000 } else { (i % 50) as i16 }, -7])
        .collect();
    let block = SampleBlock {
        patient: h.own.clone(),
        device: DeviceId::random(),
        seq: 1,
        start_ns: start,
        rate_hz: 250,
        leads: 2,
        samples_uv: samples,
        lead_off: false,
    };
    h.stores.samples.write(&[block]).await.expect("write");
    let token = h.token(&h.doctor_a, Role::Doctor);
    let get = |from: i64, to: i64, max: usize| {
        h.get_ok(
            &token,
            format!(
                "/v1/patients/{}/ecg?from_ns={from}&to_ns={to}&max_points={max}",
                h.own
            ),
        )
    };
    let raw = get(start, start + NANOS_PER_SEC, 1000).await;
    assert_eq!(raw["mode"], "raw");
    assert_eq!(raw["frames"].as_array().expect("frames").len(), 250);

    let strip = get(start, start + 10 * NANOS_PER_SEC, 100).await;
    assert_eq!(strip["mode"], "min_max");
    let buckets = strip["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 50);
    // Every spike survives the reduction.
    let spikes = buckets.iter().filter(|b| b["max"][0] == 2000).count();
    assert_eq!(spikes, 10);
    assert!(
        buckets
            .iter()
            .all(|b| b["min"][1] == -7 && b["max"][1] == -7)
    );

    let other = h
        .http
        .get(h.url(&format!(
            "/v1/patients/{}/ecg?from_ns={start}&to_ns={}",
            h.other,
            start + NANOS_PER_SEC
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), 403);
    let too_long = h
        .http
        .get(h.url(&format!(
            "/v1/patients/{}/ecg?from_ns={start}&to_ns={}",
            h.own,
            start + 7200 * NANOS_PER_SEC
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(too_long.status(), 422);
}

#[tokio::test]
async fn responses_carry_hsts_and_no_cors_and_requests_are_counted() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let response = h
        .http
        .get(h.url("/v1/patients"))
        .bearer_auth(&token)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    let headers = response.headers();
    assert_eq!(
        headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.get("access-control-allow-origin").is_none());
    let preflight = h
        .http
        .request(reqwest::Method::OPTIONS, h.url("/v1/patients"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("preflight");
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(!preflight.status().is_success());

    let metrics = h
        .http
        .get(h.admin_url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .contains(r#"cw_api_requests_total{method="GET",route="/v1/patients",status="200"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_alert_list_pages_by_cursor_and_filters() {
    let h = ApiHarness::start(Mode::Embedded).await;
    // The harness' firing alert plus five resolved ones.
    for i in 0..5 {
        let mut a = h
            .stores
            .records
            .get_alert(&h.own_alert)
            .await
            .expect("alert");
        a.id = cw_core::AlertId::random();
        a.rule = cw_core::RuleKind::HrLow;
        a.fired_ns -= (i + 1) * NANOS_PER_SEC;
        a.priority = if i == 0 {
            cw_core::Priority::Low
        } else {
            cw_core::Priority::High
        };
        h.stores.records.open_alert(&a).await.expect("open");
        h.stores
            .records
            .resolve_alert(&a.id, a.fired_ns + 1)
            .await
            .expect("resolve");
    }
    let token = h.token(&h.doctor_a, Role::Doctor);
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let mut url = format!("/v1/alerts?patient={}&limit=2", h.own);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = h
            .http
            .get(h.url(&url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), 200);
        cursor = r
            .headers()
            .get("x-next-cursor")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let page: Vec<Value> = r.json().await.expect("json");
        seen.extend(
            page.into_iter()
                .map(|a| a["id"].as_str().expect("id").to_owned()),
        );
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "no alert twice");

    let low: Vec<Value> = h
        .http
        .get(h.url(&format!("/v1/alerts?patient={}&priority=low", h.own)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("filtered")
        .json()
        .await
        .expect("json");
    assert_eq!(low.len(), 1);
    let bad = h
        .http
        .get(h.url("/v1/alerts?priority=urgent"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn an_alert_shows_every_event_of_its_episode_and_the_summary_in_words() {
    let h = ApiHarness::start(Mode::Embedded).await;
    // The harness' alert is hr_high; the engine recorded three fast spells, 162 at worst.
    let episode = cw_core::Episode {
        count: 3,
        first_ns: 1,
        last_ns: 2,
        worst: 162.4,
    };
    h.stores
        .records
        .record_episode(&h.own_alert, &episode)
        .await
        .expect("recorded");
    let token = h.token(&h.doctor_a, Role::Doctor);
    let page: Vec<Value> = h
        .http
        .get(h.url(&format!("/v1/alerts?patient={}", h.own)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let shown = page
        .iter()
        .find(|a| a["id"] == h.own_alert.as_str())
        .expect("listed");
    assert_eq!(shown["episode"]["count"], 3, "{shown}");
    assert_eq!(
        shown["summary"], "3 high heart rate episodes, fastest 162 bpm",
        "{shown}"
    );
    let acked: Value = h
        .http
        .post(h.url(&format!("/v1/alerts/{}/ack", h.own_alert)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ack")
        .json()
        .await
        .expect("json");
    assert_eq!(acked["summary"], shown["summary"], "{acked}");
}

#[tokio::test]
async fn the_fatigue_report_counts_alarms_acks_and_time_to_ack_per_caller_scope() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let acked_at = h
        .stores
        .records
        .get_alert(&h.own_alert)
        .await
        .expect("alert")
        .fired_ns
        + 30 * NANOS_PER_SEC;
    h.stores
        .records
        .acknowledge_alert(&h.own_alert, "dr-a", acked_at)
        .await
        .expect("ack");
    let report = |token: String| {
        let request = h
            .http
            .get(h.url("/v1/reports/fatigue?days=7"))
            .bearer_auth(token);
        async move {
            let r = request.send().await.expect("report");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")
        }
    };
    let doctor = report(h.token(&h.doctor_a, Role::Doctor)).await;
    assert_eq!(
        doctor["alarms"], 1,
        "a doctor sees only their patients' alarms: {doctor}"
    );
    assert_eq!(doctor["ack_rate"], 1.0);
    assert_eq!(doctor["median_time_to_ack_s"], 30.0);
    assert_eq!(doctor["rows"][0]["patient"], h.own.as_str());

    let ops = report(h.token(&h.ops, Role::Ops)).await;
    assert_eq!(ops["alarms"], 2, "ops see every patient's alarms: {ops}");
    assert_eq!(ops["ack_rate"], 0.5);

    let too_long = h
        .http
        .get(h.url("/v1/reports/fatigue?days=365"))
        .bearer_auth(h.token(&h.admin, Role::Admin))
        .send()
        .await
        .expect("report");
    assert_eq!(too_long.status(), 422);
}

#[tokio::test]
async fn a_threshold_policy_that_would_silence_every_alarm_needs_confirmation() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let url = h.url(&format!("/v1/patients/{}/thresholds", h.own));
    let put = |url: String, body: Value| h.http.put(url).bearer_auth(&token).json(&body).send();
    let set = put(
        url.clone(),
        json!({"hr_high": {"bpm": 130.0, "priority": "high"}}),
    )
    .await
    .expect("request");
    assert_eq!(set.status(), 200);
    let emptied = put(url.clone(), json!({})).await.expect("request");
    assert_eq!(emptied.status(), 422);
    let body: Value = emptied.json().await.expect("json error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("allow_no_alarms")),
        "{body}"
    );
    let kept = h.stores.records.policy(&h.own).await.expect("policy");
    assert!(kept.hr_high.is_some(), "the refused PUT changed nothing");
    let confirmed = put(format!("{url}?allow_no_alarms=true"), json!({}))
        .await
        .expect("request");
    assert_eq!(confirmed.status(), 200);
    assert!(
        h.stores
            .records
            .policy(&h.own)
            .await
            .expect("policy")
            .raises_nothing()
    );
}

#[tokio::test]
async fn a_wrong_method_gets_405_with_the_json_error_shape() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let response = h
        .http
        .delete(h.url("/v1/alerts"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
}
