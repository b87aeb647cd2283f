//! The monitoring report (`GET /v1/patients/{id}/report`, docs/reports.md): ten minutes of
//! MIT-BIH record 203 (AF with frequent multiform PVCs, couplets and runs; from
//! `../shared/data`) and two alarms written through the real stores (InfluxDB and the
//! MongoDB-protocol server), then the report asked for as JSON and as a PDF. Poppler's
//! `pdftotext` must find every figure of the JSON in the PDF's text, `pdftoppm` renders
//! every page at the A4 size with ink on it, and the event strip measures 250 mm for its
//! 10 s (25 mm/s on the page). The FHIR `DiagnosticReport` carries the same PDF and is
//! valid for `fhir.resources`; `cardiowatch report` writes the same PDF from the store.
//! Another doctor's patient and bad ranges are refused with the JSON error shape, and the
//! report is audited with its patient.

use cw_core::audit::AuditOutcome;
use cw_core::time::NANOS_PER_SEC;
use cw_core::{Alert, DeviceId, Priority, Role, RuleKind, SampleBlock};
use cw_e2e::api::ApiHarness;
use cw_e2e::processes::bin_dir;
use cw_e2e::system::Mode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const FS: i64 = 360;
const SECONDS: i64 = 600;
/// Where the stored ten minutes begin: a whole minute two hours ago (inside InfluxDB's
/// raw retention, which refuses older points).
fn start_s() -> i64 {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *START.get_or_init(|| (cw_core::time::now_ns() / NANOS_PER_SEC - 7200) / 60 * 60)
}

fn ns(s: i64) -> i64 {
    (start_s() + s) * NANOS_PER_SEC
}

fn range() -> String {
    format!("from_ns={}&to_ns={}", ns(0), ns(SECONDS))
}

/// Record 203's first ten minutes as one-second blocks, and two alarms (of rules the
/// harness's own alert does not hold open): a high one acknowledged by doctor A 30 s after it fired, and a low one never acknowledged.
async fn store_record(h: &ApiHarness) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mitdb/203");
    let record = cw_wfdb::Record::open(&dir)
        .unwrap_or_else(|e| panic!("record 203 at {}: {e}", dir.display()));
    let uv = record.microvolts_interleaved();
    let device = DeviceId::random();
    let per = (FS * 2) as usize;
    let blocks: Vec<SampleBlock> = (0..SECONDS)
        .map(|s| SampleBlock {
            patient: h.own.clone(),
            device: device.clone(),
            seq: s as u64 + 1,
            start_ns: ns(s),
            rate_hz: FS as u32,
            leads: 2,
            samples_uv: uv[s as usize * per..(s as usize + 1) * per].to_vec(),
            lead_off: false,
        })
        .collect();
    for chunk in blocks.chunks(60) {
        h.stores.samples.write(chunk).await.expect("write");
    }
    let high = Alert::firing(h.own.clone(), RuleKind::Pause, Priority::High, ns(120));
    h.stores.records.open_alert(&high).await.expect("open");
    h.stores
        .records
        .acknowledge_alert(&high.id, h.doctor_a.as_str(), ns(150))
        .await
        .expect("ack");
    h.stores
        .records
        .resolve_alert(&high.id, ns(300))
        .await
        .expect("resolve");
    let low = Alert::firing(h.own.clone(), RuleKind::Noise, Priority::Low, ns(400));
    h.stores.records.open_alert(&low).await.expect("open");
}

async fn get(h: &ApiHarness, token: &str, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut req = h.http.get(h.url(path)).bearer_auth(token);
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    req.send().await.expect("request")
}

fn tool(name: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} runs (poppler-utils, installed by scripts/test): {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The PDF's text, each line's runs of spaces made one (pdftotext sets spacing from the
/// glyphs' positions).
pub(crate) fn pdf_text(path: &Path) -> String {
    let out = tool("pdftotext", &[&path.to_string_lossy(), "-"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(one_space)
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn one_space(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn clock(t: i64) -> String {
    let d = cw_core::time::UtcDateTime::from_nanos(t);
    format!("{:02}:{:02}:{:02}", d.hour, d.minute, d.second)
}

/// What the PDF must say, made from the JSON figures: the figures and the two alarms.
fn expected_lines(s: &Value, doctor: &str) -> Vec<String> {
    let mut lines = figure_lines(s);
    lines.extend([
        "Alarms: 2".to_owned(),
        format!(
            "{}  {} (high priority)",
            clock(ns(120)),
            RuleKind::Pause.describe()
        ),
        format!("acknowledged {} (after 30.0 s) by {doctor}", clock(ns(150))),
        format!("ended {}", clock(ns(300))),
        format!(
            "{}  technical: signal too noisy to analyse (technical, low priority)  not acknowledged  still open",
            clock(ns(400))
        ),
    ]);
    lines
}

/// The figure lines the PDF prints for the JSON figures `s`.
pub(crate) fn figure_lines(s: &Value) -> Vec<String> {
    let f = |v: &Value| format!("{:.1}", v.as_f64().expect("number"));
    let hr = &s["heart_rate"];
    let (af, e, p) = (&s["af"], &s["ectopy"], &s["pauses"]);
    [
        format!("Monitoring time: {} s", f(&s["monitoring_s"])),
        format!("Analysable time: {} s", f(&s["analysable_s"])),
        format!("Beats detected: {}", s["beats"]),
        format!("Heart rate: min {} bpm", f(&hr["min_bpm"])),
        format!(
            "mean {} bpm, max {} bpm",
            f(&hr["mean_bpm"]),
            f(&hr["max_bpm"])
        ),
        format!(
            "AF burden: {} % ({} s of AF), episodes {}, longest {} s",
            f(&af["burden_pct"]),
            f(&af["af_s"]),
            af["episodes"],
            f(&af["longest_s"])
        ),
        format!(
            "PVC burden: {} % ({} PVCs of {} classified beats); isolated {}, couplets {}, runs {} (longest {} beats)",
            f(&e["pvc_burden_pct"]),
            e["pvcs"],
            e["classified_beats"],
            e["isolated_pvcs"],
            e["couplets"],
            e["runs"],
            e["longest_run_beats"]
        ),
        format!(
            "Pauses of 2.0 s or more: {}, longest {} s",
            p["count"],
            f(&p["longest_s"])
        ),
    ]
    .iter()
    .map(|l| one_space(l))
    .collect()
}

/// A binary PPM (P6) file: (width, height, RGB bytes).
fn ppm(path: &Path) -> (usize, usize, Vec<u8>) {
    let bytes = std::fs::read(path).expect("ppm");
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
    }
    assert_eq!(fields[0], "P6");
    let (w, h) = (
        fields[1].parse().expect("width"),
        fields[2].parse().expect("height"),
    );
    (w, h, bytes[at + 1..].to_vec())
}

/// Renders `pdf` at `dpi` into `dir`; the pages' PPM paths in order.
fn render(pdf: &Path, dir: &Path, dpi: u32, first: Option<usize>) -> Vec<PathBuf> {
    let prefix = dir.join(format!("page{dpi}"));
    let mut args = vec!["-r".to_owned(), dpi.to_string()];
    if let Some(k) = first {
        args.extend(["-f".into(), k.to_string(), "-l".into(), k.to_string()]);
    }
    args.extend([
        pdf.to_string_lossy().into_owned(),
        prefix.to_string_lossy().into_owned(),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    tool("pdftoppm", &refs);
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("page{dpi}-")))
        })
        .collect();
    pages.sort();
    pages
}

fn assert_json_error(body: &Value, field: Option<&str>) {
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    if let Some(field) = field {
        assert_eq!(body["error"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn the_pdf_report_holds_the_json_figures_renders_a4_pages_and_strips_at_25_mm_per_s() {
    let h = ApiHarness::start(Mode::Servers).await;
    store_record(&h).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let base = format!("/v1/patients/{}/report?{}", h.own, range());

    let r = get(&h, &token, &format!("{base}&kind=daily&format=json"), None).await;
    assert_eq!(r.status(), 200);
    let summary: Value = r.json().await.expect("json");
    // Record 203 as the engine's analysis sees it: AF and frequent ventricular ectopy.
    assert_eq!(summary["monitoring_s"], 600.0, "{summary}");
    assert!(
        summary["analysable_s"].as_f64().expect("s") > 300.0,
        "{summary}"
    );
    assert!(
        summary["af"]["burden_pct"].as_f64().expect("%") > 20.0,
        "{summary}"
    );
    assert!(
        summary["af"]["episodes"].as_u64().expect("n") >= 1,
        "{summary}"
    );
    assert!(
        summary["ectopy"]["pvcs"].as_u64().expect("n") > 20,
        "{summary}"
    );
    assert!(
        summary["ectopy"]["couplets"].as_u64().expect("n") >= 1,
        "{summary}"
    );
    assert!(
        summary["heart_rate"]["max_bpm"].as_f64().expect("bpm") > 80.0,
        "{summary}"
    );
    assert_eq!(
        summary["alarms"].as_array().map(Vec::len),
        Some(2),
        "{summary}"
    );
    assert_eq!(summary["alarms"][0]["ack_after_s"], 30.0);
    println!("record 203, 600 s: {summary}");
    // The same figures when the client asks by Accept instead.
    let r = get(
        &h,
        &token,
        &format!("{base}&kind=end"),
        Some("application/json"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json"), summary);

    let r = get(&h, &token, &format!("{base}&kind=end"), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.expect("pdf");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &pdf).expect("write");
    let text = pdf_text(&path);
    assert!(text.contains("End-of-monitoring report"), "{text}");
    for line in expected_lines(&summary, h.doctor_a.as_str()) {
        let line = one_space(&line);
        assert!(text.contains(&line), "{line:?} not in the PDF:\n{text}");
    }

    // Summary page, one page of alarms, one of the two strips; A4 landscape at 50 dpi
    // (841.89 x 595.28 pt), each with ink on it.
    let pages = render(&path, dir.path(), 50, None);
    assert_eq!(pages.len(), 3, "{pages:?}");
    for page in &pages {
        let (w, hgt, rgb) = ppm(page);
        assert!(
            (584..=586).contains(&w) && (413..=414).contains(&hgt),
            "{w}x{hgt}"
        );
        let ink = rgb.chunks(3).filter(|p| p.iter().any(|&c| c < 200)).count();
        assert!(
            ink * 5000 > w * hgt,
            "{}: {ink} inked pixels",
            page.display()
        );
    }
    // At 127 dpi a millimetre is 5 pixels: the ECG paper of a 10 s strip is 250 mm wide.
    let strip_page = render(&path, dir.path(), 127, Some(3));
    let (w, hgt, rgb) = ppm(&strip_page[0]);
    let pink = |x: usize, y: usize| {
        let p = &rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
        p[0] > 200 && i32::from(p[0]) - i32::from(p[1]) > 25 && p[1] == p[2]
    };
    let widest = (0..hgt)
        .filter_map(|y| {
            let xs: Vec<usize> = (0..w).filter(|&x| pink(x, y)).collect();
            Some(xs.last()? - xs.first()?)
        })
        .max()
        .expect("ECG paper on the strip page");
    assert!(
        (1245..=1255).contains(&widest),
        "paper {widest} px wide at 5 px/mm"
    );

    // The FHIR DiagnosticReport: the same figures, the PDF as presentedForm.
    let fhir = get(
        &h,
        &token,
        &format!(
            "/fhir/R4/DiagnosticReport?patient={}&date=ge{}&date=lt{}&kind=daily",
            h.own,
            cw_core::time::UtcDateTime::from_nanos(ns(0)).rfc3339_millis(),
            cw_core::time::UtcDateTime::from_nanos(ns(SECONDS)).rfc3339_millis()
        ),
        None,
    )
    .await;
    assert_eq!(fhir.status(), 200);
    let bundle: Value = fhir.json().await.expect("fhir json");
    let report = &bundle["entry"][0]["resource"];
    assert_eq!(report["resourceType"], "DiagnosticReport", "{bundle}");
    assert_eq!(report["code"]["coding"][0]["code"], "18754-2");
    assert_eq!(report["presentedForm"][0]["contentType"], "application/pdf");
    use base64::Engine;
    let embedded = base64::engine::general_purpose::STANDARD
        .decode(report["presentedForm"][0]["data"].as_str().expect("data"))
        .expect("base64");
    let fhir_pdf = dir.path().join("fhir.pdf");
    std::fs::write(&fhir_pdf, embedded).expect("write");
    let fhir_text = pdf_text(&fhir_pdf);
    for line in expected_lines(&summary, h.doctor_a.as_str()) {
        let line = one_space(&line);
        assert!(fhir_text.contains(&line), "{line:?} not in the FHIR PDF");
        if line.starts_with("AF burden") {
            let conclusion = one_space(report["conclusion"].as_str().expect("conclusion"));
            assert!(conclusion.contains(&line), "{conclusion}");
        }
    }
    super::fhir::validate(std::slice::from_ref(&bundle));

    // Another doctor's patient; bad ranges and parameters: the JSON error shape.
    let other = h.token(&h.doctor_b, Role::Doctor);
    let r = get(&h, &other, &format!("{base}&kind=daily"), None).await;
    assert_eq!(r.status(), 403);
    assert_json_error(&r.json().await.expect("json"), None);
    let p = format!("/v1/patients/{}/report", h.own);
    for (query, status, field) in [
        (
            format!("from_ns={}&to_ns={}&kind=daily", ns(10), ns(0)),
            422,
            Some("to_ns"),
        ),
        (
            // Over a day, so whole UTC days, and these are not.
            format!("from_ns={}&to_ns={}&kind=daily", ns(0), ns(86_401)),
            422,
            Some("from_ns"),
        ),
        (
            format!("from_ns={}&to_ns={}&kind=daily", i64::MIN, i64::MAX),
            422,
            Some("to_ns"),
        ),
        (format!("{}&kind=weekly", range()), 422, Some("kind")),
        (
            format!("{}&kind=daily&format=docx", range()),
            422,
            Some("format"),
        ),
        (range(), 400, None),
        (format!("{}&kind=daily&extra=1", range()), 400, None),
    ] {
        let r = get(&h, &token, &format!("{p}?{query}"), None).await;
        assert_eq!(r.status(), status, "{query}");
        assert_json_error(&r.json().await.expect("json"), field);
    }

    let events = h
        .stores
        .records
        .audit_events(1, 10_000)
        .await
        .expect("audit");
    let made = events
        .iter()
        .find(|e| e.entry.action == "GET /v1/patients/{id}/report" && e.entry.status == 200)
        .expect("the report is audited");
    assert_eq!(made.entry.patient.as_ref(), Some(&h.own));
    assert_eq!(made.entry.outcome, AuditOutcome::Allowed);
    assert!(
        events
            .iter()
            .any(|e| e.entry.action == "GET /v1/patients/{id}/report"
                && e.entry.status == 403
                && e.entry.outcome == AuditOutcome::Denied)
    );
}

#[tokio::test]
async fn cardiowatch_report_writes_the_same_pdf_and_figures_as_the_api() {
    let h = ApiHarness::start(Mode::Embedded).await;
    store_record(&h).await;
    let token = h.token(&h.doctor_a, Role::Doctor);
    let base = format!("/v1/patients/{}/report?{}&kind=daily", h.own, range());
    let api_json: Value = get(&h, &token, &format!("{base}&format=json"), None)
        .await
        .json()
        .await
        .expect("json");
    let api_pdf = get(&h, &token, &base, None)
        .await
        .bytes()
        .await
        .expect("pdf");
    let dir = tempfile::tempdir().expect("dir");
    let api_path = dir.path().join("api.pdf");
    std::fs::write(&api_path, &api_pdf).expect("write");

    let cli_path = dir.path().join("cli.pdf");
    let (from, to) = (ns(0).to_string(), ns(SECONDS).to_string());
    let cli = |extra: &[&str]| {
        let mut args = vec![
            "report",
            "--patient",
            h.own.as_str(),
            "--from-ns",
            &from,
            "--to-ns",
            &to,
        ];
        args.extend_from_slice(extra);
        let out = Command::new(bin_dir().join("cardiowatch"))
            .args(&args)
            .envs(cw_e2e::env::embedded_store_env(&h.storage))
            .output()
            .expect("cardiowatch runs");
        assert!(
            out.status.success(),
            "cardiowatch {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    cli(&["--out", &cli_path.to_string_lossy()]);
    let cli_json: Value = serde_json::from_str(&cli(&["--json"])).expect("cli json");
    assert_eq!(cli_json, api_json);
    // Byte for byte but the time each was made.
    let without_made = |text: String| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains("Made "))
            .map(String::from)
            .collect()
    };
    let (api_text, cli_text) = (pdf_text(&api_path), pdf_text(&cli_path));
    assert!(api_text.contains("AF burden"), "{api_text}");
    assert_eq!(without_made(cli_text), without_made(api_text));
}
