//! Drawing on a report page: event strips on ECG paper at the standard 25 mm/s and
//! 10 mm/mV in true millimetres (1 mm small squares, 5 mm large ones, a 1 mV calibration
//! pulse before each lead, as printed ECGs and the console's strip, docs/console.md; the
//! alarm's instant dashed, each counted beat's class above the paper), and the heart-rate
//! trend plot.

use super::pdf::{Page, seconds};
use cw_analysis::monitoring_summary::{MonitoringSummary, STRIP_S, Strip, TREND_NS, clock};
use cw_core::ecg_paper;
use cw_core::time::NANOS_PER_SEC;

/// The paper's scale (cw_core::ecg_paper) in the page's unit, millimetres as `f32`.
const MM_PER_S: f32 = ecg_paper::MM_PER_S as f32;
const MM_PER_MV: f32 = ecg_paper::MM_PER_MV as f32;
const CAL_PULSE_HEIGHT_MM: f32 = ecg_paper::CAL_PULSE_HEIGHT_MM as f32;
const CAL_PULSE_WIDTH_MM: f32 = ecg_paper::CAL_PULSE_WIDTH_MM as f32;
/// Height of one lead's band: ±1.5 mV.
const LEAD_MM: f32 = 30.0;
/// Leads drawn per strip at most.
const MAX_LEADS: usize = 3;

/// Draws `strip` with its top-left corner at (`x`, `top`) mm; returns the bottom.
pub(super) fn strip(page: &mut Page, strip: &Strip, x: f32, top: f32) -> f32 {
    page.text(x, top + 3.0, 9.0, true, &strip.label);
    let leads = strip
        .frames
        .first()
        .map_or(1, |f| f.1.len())
        .clamp(1, MAX_LEADS);
    let width = STRIP_S as f32 * MM_PER_S;
    // The label, then a line of beat classes, then the paper.
    let paper_top = top + 7.0;
    let mut band_top = paper_top;
    for lead in 0..leads {
        grid(page, x, band_top, width, LEAD_MM);
        let mid = band_top + LEAD_MM / 2.0;
        // The 1 mV calibration pulse, 0.2 s wide, left of the paper.
        page.content
            .set_stroke_rgb(0.0, 0.0, 0.0)
            .set_line_width(0.6);
        let (rise, fall) = (x - 7.5, x - 7.5 + CAL_PULSE_WIDTH_MM);
        page.move_to(x - 9.0, mid);
        page.line_to(rise, mid);
        page.line_to(rise, mid - CAL_PULSE_HEIGHT_MM);
        page.line_to(fall, mid - CAL_PULSE_HEIGHT_MM);
        page.line_to(fall, mid);
        page.line_to(x - 1.0, mid);
        page.content.stroke();
        page.text(
            x + 1.0,
            band_top + 3.5,
            7.0,
            false,
            &format!("lead {}", lead + 1),
        );
        trace(page, strip, lead, x, mid, band_top, band_top + LEAD_MM);
        band_top += LEAD_MM;
    }
    let bottom = paper_top + leads as f32 * LEAD_MM;
    // The alarm's instant, and each beat's class above the paper (N, S, V, F, Q).
    let fired = x + seconds(strip.start_ns, strip.fired_ns) * MM_PER_S;
    page.content
        .set_stroke_rgb(0.0, 0.3, 0.9)
        .set_line_width(0.8)
        .set_dash_pattern([2.0, 2.0], 0.0);
    page.move_to(fired, paper_top);
    page.line_to(fired, bottom);
    page.content.stroke().set_dash_pattern([], 0.0);
    for (at, class) in &strip.beats {
        let bx = x + seconds(strip.start_ns, *at) * MM_PER_S;
        page.text(
            bx - 0.8,
            paper_top - 0.8,
            6.0,
            *class == 'V',
            &class.to_string(),
        );
    }
    if strip.frames.is_empty() {
        page.text(
            x + 20.0,
            top + 5.0 + LEAD_MM / 2.0,
            9.0,
            false,
            "no ECG stored for this strip",
        );
    }
    page.text(
        x,
        band_top + 4.0,
        7.0,
        false,
        &format!(
            "{} to {} UTC   {} mm/s   {} mm/mV",
            clock(strip.start_ns),
            clock(strip.end_ns),
            ecg_paper::MM_PER_S,
            ecg_paper::MM_PER_MV
        ),
    );
    band_top + 4.0
}

/// ECG paper: thin lines every millimetre, thicker every 5 mm.
fn grid(page: &mut Page, x: f32, top: f32, w: f32, h: f32) {
    let (minor, major) = (ecg_paper::MINOR_MM as f32, ecg_paper::MAJOR_MM as f32);
    for (step, width, shade) in [(minor, 0.15, 0.85), (major, 0.5, 0.55)] {
        page.content
            .set_stroke_rgb(1.0, shade, shade)
            .set_line_width(width);
        let mut d = 0.0;
        while d <= w + 0.01 {
            page.move_to(x + d, top);
            page.line_to(x + d, top + h);
            d += step;
        }
        let mut d = 0.0;
        while d <= h + 0.01 {
            page.move_to(x, top + d);
            page.line_to(x + w, top + d);
            d += step;
        }
        page.content.stroke();
    }
}

/// One lead's samples as a line, broken where nothing was stored, clipped to its band.
fn trace(page: &mut Page, strip: &Strip, lead: usize, x: f32, mid: f32, lo: f32, hi: f32) {
    page.content
        .set_stroke_rgb(0.0, 0.0, 0.0)
        .set_line_width(0.5);
    let period = strip
        .frames
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .filter(|d| *d > 0)
        .min()
        .unwrap_or(NANOS_PER_SEC);
    let mut last = None;
    for (t, values) in &strip.frames {
        let Some(&uv) = values.get(lead) else {
            last = None;
            continue;
        };
        let px = x + seconds(strip.start_ns, *t) * MM_PER_S;
        let py = (mid - f32::from(uv) / 1000.0 * MM_PER_MV).clamp(lo, hi);
        match last {
            Some(prev) if t - prev <= period + period / 2 => page.line_to(px, py),
            _ => page.move_to(px, py),
        }
        last = Some(*t);
    }
    page.content.stroke();
}

/// The heart-rate trend (one point per minute) in a box at (`x`, `top`), `w` × `h` mm.
pub(super) fn trend(page: &mut Page, s: &MonitoringSummary, x: f32, top: f32, w: f32, h: f32) {
    let (left, bottom) = (x + 12.0, top + h - 6.0);
    let pw = w - 12.0;
    page.text(
        x,
        top,
        10.0,
        true,
        "Heart rate trend (bpm, one point per minute)",
    );
    let plot_top = top + 4.0;
    let (lo, hi) = match &s.heart_rate {
        Some(hr) => (
            ((hr.min_bpm - 10.0) / 20.0).floor() * 20.0,
            ((hr.max_bpm + 10.0) / 20.0).ceil() * 20.0,
        ),
        None => (40.0, 160.0),
    };
    let (lo, hi) = (lo.max(0.0) as f32, hi as f32);
    let y_of = |bpm: f32| bottom - (bpm - lo) / (hi - lo) * (bottom - plot_top);
    page.content
        .set_stroke_rgb(0.75, 0.75, 0.75)
        .set_line_width(0.3);
    let mut bpm = lo;
    while bpm <= hi + 0.01 {
        page.move_to(left, y_of(bpm));
        page.line_to(left + pw, y_of(bpm));
        page.text(x, y_of(bpm) + 1.0, 7.0, false, &format!("{bpm:.0}"));
        bpm += 20.0;
    }
    page.content.stroke();
    let span = seconds(s.from_ns, s.to_ns).max(1.0);
    let x_of = |t| left + seconds(s.from_ns, t) / span * pw;
    for k in 0..=4 {
        let t = s.from_ns + (s.to_ns - s.from_ns) / 4 * k;
        page.text(x_of(t) - 6.0, bottom + 5.0, 7.0, false, &clock(t));
    }
    page.content
        .set_stroke_rgb(0.8, 0.0, 0.0)
        .set_line_width(0.9);
    let mut last = None;
    for p in &s.hr_trend {
        let (px, py) = (x_of(p.at_ns + TREND_NS / 2), y_of(p.bpm as f32));
        match last {
            Some(prev) if p.at_ns - prev <= TREND_NS => page.line_to(px, py),
            _ => {
                page.move_to(px, py);
                // A lone minute still shows: a short tick.
                page.line_to(px + 0.3, py);
            }
        }
        last = Some(p.at_ns);
    }
    page.content.stroke();
    page.content
        .set_stroke_rgb(0.0, 0.0, 0.0)
        .set_line_width(0.5);
    page.content.rect(
        left * super::pdf::PT_PER_MM,
        (super::pdf::PAGE_H_MM - bottom) * super::pdf::PT_PER_MM,
        pw * super::pdf::PT_PER_MM,
        (bottom - plot_top) * super::pdf::PT_PER_MM,
    );
    page.content.stroke();
}
