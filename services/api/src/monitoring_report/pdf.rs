//! The monitoring report as a PDF (docs/reports.md): A4 landscape pages with the figures
//! and the heart-rate trend, the alarms, then the event strips on ECG paper. Pure: a
//! [`MonitoringSummary`] and its strips in, bytes out; the api's route and `cardiowatch
//! report` both call [`render`], so their PDFs are the same.
//!
//! Every figure is printed from the summary's own (already rounded) value with one
//! formatting rule, [`figure`], so a test can find the JSON's numbers in the PDF's text.

use super::paper;
use super::{ReportKind, ReportMeta};
use cw_analysis::monitoring_summary::{AlarmRow, MonitoringSummary, Strip, clock};
use cw_core::time::{NANOS_PER_SEC, Nanos, UtcDateTime};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// PDF points per millimetre.
pub const PT_PER_MM: f32 = 72.0 / 25.4;
/// A4 landscape, mm.
pub const PAGE_W_MM: f32 = 297.0;
pub const PAGE_H_MM: f32 = 210.0;
const MARGIN_MM: f32 = 15.0;
const LINE_MM: f32 = 5.5;
/// Alarm rows on one page.
const ALARMS_PER_PAGE: usize = 28;
/// Alarm rows listed at most; the rest are counted.
const MAX_ALARM_ROWS: usize = 280;
/// Event strips on one page.
const STRIPS_PER_PAGE: usize = 2;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// One page being drawn, in millimetres from its top-left corner.
pub(super) struct Page {
    pub content: Content,
}

impl Page {
    fn new() -> Self {
        Self {
            content: Content::new(),
        }
    }

    /// A line of text whose baseline is `y` mm from the top.
    pub fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let ascii: String = text
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        self.content
            .begin_text()
            .set_font(if bold { BOLD } else { REGULAR }, size)
            .next_line(x * PT_PER_MM, (PAGE_H_MM - y) * PT_PER_MM)
            .show(Str(ascii.as_bytes()))
            .end_text();
    }

    pub fn move_to(&mut self, x: f32, y: f32) {
        self.content
            .move_to(x * PT_PER_MM, (PAGE_H_MM - y) * PT_PER_MM);
    }

    pub fn line_to(&mut self, x: f32, y: f32) {
        self.content
            .line_to(x * PT_PER_MM, (PAGE_H_MM - y) * PT_PER_MM);
    }
}

/// A figure as the PDF prints it: one decimal, as the summary rounded it.
pub fn figure(x: f64) -> String {
    format!("{x:.1}")
}

/// `YYYY-MM-DD hh:mm:ss UTC`.
pub fn date_time(t: Nanos) -> String {
    let d = UtcDateTime::from_nanos(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        d.year, d.month, d.day, d.hour, d.minute, d.second
    )
}

/// The lines of the figures section: each is one text line of the PDF.
pub fn figure_lines(s: &MonitoringSummary) -> Vec<String> {
    let mut lines = vec![
        format!(
            "Monitoring time: {} s   Analysable time: {} s   Beats detected: {}",
            figure(s.monitoring_s),
            figure(s.analysable_s),
            s.beats
        ),
        match &s.heart_rate {
            Some(hr) => format!(
                "Heart rate: min {} bpm (minute from {}), mean {} bpm, max {} bpm (minute from {})",
                figure(hr.min_bpm),
                clock(hr.min_at_ns),
                figure(hr.mean_bpm),
                figure(hr.max_bpm),
                clock(hr.max_at_ns)
            ),
            None => "Heart rate: not enough analysable signal".to_owned(),
        },
    ];
    let af = &s.af;
    lines.push(format!(
        "AF burden: {} % ({} s of AF), episodes {}, longest {} s{}",
        figure(af.burden_pct),
        figure(af.af_s),
        af.episodes,
        figure(af.longest_s),
        af.longest_start_ns
            .map(|t| format!(" from {}", clock(t)))
            .unwrap_or_default()
    ));
    let e = &s.ectopy;
    lines.push(format!(
        "PVC burden: {} % ({} PVCs of {} classified beats); isolated {}, couplets {}, runs {} (longest {} beats); SVEBs {}",
        figure(e.pvc_burden_pct),
        e.pvcs,
        e.classified_beats,
        e.isolated_pvcs,
        e.couplets,
        e.runs,
        e.longest_run_beats,
        e.svebs
    ));
    let p = &s.pauses;
    lines.push(format!(
        "Pauses of {} s or more: {}, longest {} s{}",
        figure(p.threshold_s),
        p.count,
        figure(p.longest_s),
        p.longest_at_ns
            .map(|t| format!(" at {}", clock(t)))
            .unwrap_or_default()
    ));
    lines.push(format!("Alarms: {}", s.alarms.len()));
    lines
}

/// One alarm row of the table.
pub fn alarm_line(a: &AlarmRow) -> String {
    let acked = match (a.acked_ns, a.ack_after_s) {
        (Some(at), Some(after)) => format!(
            "acknowledged {} (after {} s){}",
            clock(at),
            figure(after),
            a.acked_by
                .as_deref()
                .map(|by| format!(" by {by}"))
                .unwrap_or_default()
        ),
        _ => "not acknowledged".to_owned(),
    };
    let ended = a.resolved_ns.map_or_else(
        || "still open".to_owned(),
        |t| format!("ended {}", clock(t)),
    );
    format!(
        "{}  {} ({}{} priority)  {acked}  {ended}",
        clock(a.fired_ns),
        a.rule.describe(),
        if a.technical { "technical, " } else { "" },
        a.priority.as_str(),
    )
}

/// The report's PDF.
pub fn render(meta: &ReportMeta, s: &MonitoringSummary, strips: &[Strip]) -> Vec<u8> {
    let mut pages = vec![first_page(meta, s)];
    let rows: Vec<String> = s
        .alarms
        .iter()
        .take(MAX_ALARM_ROWS)
        .map(alarm_line)
        .collect();
    for (k, chunk) in rows.chunks(ALARMS_PER_PAGE).enumerate() {
        let mut page = Page::new();
        page.text(
            MARGIN_MM,
            MARGIN_MM + 5.0,
            13.0,
            true,
            &format!(
                "Alarms ({} of {}, page {})",
                rows.len(),
                s.alarms.len(),
                k + 1
            ),
        );
        for (i, row) in chunk.iter().enumerate() {
            page.text(
                MARGIN_MM,
                MARGIN_MM + 14.0 + i as f32 * LINE_MM,
                9.0,
                false,
                row,
            );
        }
        if s.alarms.len() > rows.len() && (k + 1) * ALARMS_PER_PAGE >= rows.len() {
            let y = MARGIN_MM + 14.0 + chunk.len() as f32 * LINE_MM;
            page.text(
                MARGIN_MM,
                y,
                9.0,
                false,
                &format!(
                    "... and {} more (GET /v1/alerts)",
                    s.alarms.len() - rows.len()
                ),
            );
        }
        pages.push(page);
    }
    for chunk in strips.chunks(STRIPS_PER_PAGE) {
        let mut page = Page::new();
        page.text(
            MARGIN_MM,
            MARGIN_MM + 5.0,
            13.0,
            true,
            "Event strips (25 mm/s, 10 mm/mV)",
        );
        let mut top = MARGIN_MM + 12.0;
        for strip in chunk {
            top = paper::strip(&mut page, strip, MARGIN_MM, top) + 8.0;
        }
        pages.push(page);
    }
    assemble(meta, pages)
}

fn first_page(meta: &ReportMeta, s: &MonitoringSummary) -> Page {
    let mut page = Page::new();
    let title = match meta.kind {
        ReportKind::Daily => "Daily monitoring report",
        ReportKind::End => "End-of-monitoring report",
    };
    page.text(
        MARGIN_MM,
        MARGIN_MM + 5.0,
        16.0,
        true,
        &format!("cardiowatch - {title}"),
    );
    page.text(
        MARGIN_MM,
        MARGIN_MM + 13.0,
        10.0,
        false,
        &format!(
            "Patient {}   From {} to {}   Made {}",
            meta.patient,
            date_time(s.from_ns),
            date_time(s.to_ns),
            date_time(meta.made_ns)
        ),
    );
    let mut y = MARGIN_MM + 24.0;
    for line in figure_lines(s) {
        page.text(MARGIN_MM, y, 10.0, false, &line);
        y += LINE_MM + 1.0;
    }
    page.text(
        MARGIN_MM,
        y + 4.0,
        8.0,
        false,
        "How each figure is computed: docs/reports.md. Beats, classes and AF as the alert engine finds them.",
    );
    paper::trend(
        &mut page,
        s,
        MARGIN_MM,
        y + 12.0,
        PAGE_W_MM - 2.0 * MARGIN_MM,
        PAGE_H_MM - MARGIN_MM - (y + 12.0) - 8.0,
    );
    page
}

fn assemble(meta: &ReportMeta, pages: Vec<Page>) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let page_ref = |k: usize| Ref::new(10 + 2 * k as i32);
    let content_ref = |k: usize| Ref::new(11 + 2 * k as i32);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..pages.len()).map(page_ref))
        .count(pages.len() as i32);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr(&format!(
            "cardiowatch monitoring report {}",
            meta.patient
        )))
        .producer(TextStr("cardiowatch"));
    for (k, page) in pages.into_iter().enumerate() {
        let mut p = pdf.page(page_ref(k));
        p.parent(tree)
            .media_box(Rect::new(
                0.0,
                0.0,
                PAGE_W_MM * PT_PER_MM,
                PAGE_H_MM * PT_PER_MM,
            ))
            .contents(content_ref(k));
        p.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        p.finish();
        pdf.stream(content_ref(k), &page.content.finish());
    }
    pdf.finish()
}

/// Seconds since the range's start as a strip or plot sees them.
pub(super) fn seconds(from: Nanos, t: Nanos) -> f32 {
    ((t - from) as f64 / NANOS_PER_SEC as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_analysis::monitoring_summary::SummaryBuilder;
    use cw_core::{Alert, PatientId, Priority, RuleKind};

    #[test]
    fn the_pdf_prints_every_figure_line_and_one_page_per_two_strips() {
        let t0 = 1_765_000_000 * NANOS_PER_SEC;
        let p = PatientId::parse("p-1").expect("id");
        let alerts: Vec<Alert> = (0..3)
            .map(|k| {
                Alert::firing(
                    p.clone(),
                    RuleKind::Pause,
                    Priority::High,
                    t0 + (20 + k) * NANOS_PER_SEC,
                )
            })
            .collect();
        let frames: Vec<(Nanos, Vec<i16>)> = (0..250 * 60)
            .map(|i| {
                (
                    t0 + i * NANOS_PER_SEC / 250,
                    vec![if i % 250 < 5 { 1500 } else { 0 }],
                )
            })
            .collect();
        let mut b = SummaryBuilder::new(
            t0,
            t0 + 60 * NANOS_PER_SEC,
            250,
            super::super::af_rule(),
            &alerts,
        );
        b.push(&frames);
        let (summary, strips) = b.finish(&alerts);
        let meta = ReportMeta {
            kind: ReportKind::Daily,
            patient: "p-1".into(),
            made_ns: t0,
        };
        let bytes = render(&meta, &summary, &strips);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-"));
        for line in figure_lines(&summary).iter().chain(
            summary
                .alarms
                .iter()
                .map(alarm_line)
                .collect::<Vec<_>>()
                .iter(),
        ) {
            assert!(text.contains(&format!("({line})")), "{line}");
        }
        // Summary, alarms, two pages of strips (2 + 1).
        assert_eq!(
            text.matches("/Type /Page\n").count() + text.matches("/Type /Page ").count(),
            4,
            "{}",
            text.matches("/Type /Page").count()
        );
    }
}
