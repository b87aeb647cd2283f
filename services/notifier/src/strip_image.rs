//! The event strip of an email page as a PNG (issue 17 item 5; docs/console.md, "Deep
//! links in pages"): stored ECG around the alert's onset on ECG paper at the standard
//! 25 mm/s and 10 mm/mV — 1 mm small squares, 5 mm large ones, a 1 mV × 200 ms
//! calibration pulse before each lead, the onset as a dashed line — as the console's
//! strip and the report's draw it. Pure: frames in, bytes out.
//!
//! 5 px per mm (127 dpi): a large square is 25 px, one second 125 px, one millivolt
//! 50 px — sharp on a phone and on paper, and 10 s of three leads stays ~1300 × 450 px.

use cw_core::ecg_paper::{
    CAL_PULSE_HEIGHT_MM, CAL_PULSE_WIDTH_MM, MAJOR_MM, MINOR_MM, MM_PER_MV, MM_PER_S,
};
use cw_core::time::{NANOS_PER_SEC, Nanos};

/// Raster resolution.
pub const PX_PER_MM: usize = 5;
/// Seconds of ECG in the strip and how many of them come before the onset.
pub const STRIP_S: i64 = 10;
pub const BEFORE_ONSET_S: i64 = 4;
/// Left margin for the calibration pulse.
const MARGIN_MM: usize = 10;
/// One lead's band: ±1.5 mV.
const LEAD_MM: usize = 30;
/// Leads drawn at most (the console shows all of them).
pub const MAX_LEADS: usize = 3;

/// Palette indices of the indexed PNG.
const PAPER: u8 = 0;
const MINOR: u8 = 1;
const MAJOR: u8 = 2;
const INK: u8 = 3;
const ONSET: u8 = 4;
const PALETTE: [u8; 15] = [
    255, 255, 255, // paper
    255, 214, 214, // 1 mm lines
    240, 128, 128, // 5 mm lines
    0, 0, 0, // trace and calibration
    0, 70, 200, // onset
];

/// The stored ECG a strip is drawn from.
pub struct StripSource<'a> {
    pub start_ns: Nanos,
    pub onset_ns: Nanos,
    /// Frames in time order, µV per lead.
    pub frames: &'a [(Nanos, Vec<i16>)],
}

/// The window of a strip around `onset_ns`: [`BEFORE_ONSET_S`] before it and the rest
/// after, but never past `fired_ns`: the page goes when the alert fires, and nothing
/// later is stored yet.
pub fn window(onset_ns: Nanos, fired_ns: Nanos) -> (Nanos, Nanos) {
    let end = (onset_ns + (STRIP_S - BEFORE_ONSET_S) * NANOS_PER_SEC).min(fired_ns.max(onset_ns));
    (end - STRIP_S * NANOS_PER_SEC, end)
}

/// A palette-indexed raster, row-major.
#[derive(Debug)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Raster {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![PAPER; width * height],
        }
    }

    fn set(&mut self, x: i64, y: i64, colour: u8) {
        if let (Ok(x), Ok(y)) = (usize::try_from(x), usize::try_from(y))
            && x < self.width
            && y < self.height
        {
            self.pixels[y * self.width + x] = colour;
        }
    }

    pub fn get(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width + x]
    }

    /// A line two pixels thick (Bresenham, doubled downwards) so a trace reads at 127 dpi.
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), colour: u8) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, colour);
            self.set(x, y + 1, colour);
            if x == x1 && y == y1 {
                return;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }
}

/// Pixels per second and per millivolt.
pub const PX_PER_S: usize = MM_PER_S * PX_PER_MM;
pub const PX_PER_MV: usize = MM_PER_MV * PX_PER_MM;

/// The x of time `t` on a strip starting at `start_ns`.
fn x_of(start_ns: Nanos, t: Nanos) -> i64 {
    let margin = (MARGIN_MM * PX_PER_MM) as i64;
    margin + ((t - start_ns) as i128 * PX_PER_S as i128 / NANOS_PER_SEC as i128) as i64
}

/// The leads a strip of `frames` shows.
pub fn leads(frames: &[(Nanos, Vec<i16>)]) -> usize {
    frames.first().map_or(1, |f| f.1.len()).clamp(1, MAX_LEADS)
}

/// The strip's raster: width (margin + [`STRIP_S`] of paper) × one band per lead.
pub fn render(source: &StripSource<'_>) -> Raster {
    let leads = leads(source.frames);
    let band = LEAD_MM * PX_PER_MM;
    let paper_px = STRIP_S as usize * PX_PER_S;
    let margin = MARGIN_MM * PX_PER_MM;
    let mut r = Raster::new(margin + paper_px, leads * band);
    grid(&mut r, margin);
    // The sampling period, to lift the pen over a gap in what was stored.
    let period = source
        .frames
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .filter(|d| *d > 0)
        .min()
        .unwrap_or(NANOS_PER_SEC);
    for lead in 0..leads {
        let mid = (lead * band + band / 2) as i64;
        calibration(&mut r, mid);
        let mut last: Option<(Nanos, (i64, i64))> = None;
        for (t, values) in source.frames {
            let Some(&uv) = values.get(lead) else {
                last = None;
                continue;
            };
            let y = mid - i64::from(uv) * PX_PER_MV as i64 / 1000;
            let y = y.clamp((lead * band) as i64, ((lead + 1) * band - 2) as i64);
            let point = (x_of(source.start_ns, *t), y);
            match last {
                Some((prev, from)) if t - prev <= period + period / 2 => {
                    r.line(from, point, INK);
                }
                _ => r.set(point.0, point.1, INK),
            }
            last = Some((*t, point));
        }
    }
    // The onset: a dashed line over every band (3 px on, 3 px off).
    let x = x_of(source.start_ns, source.onset_ns);
    for y in (0..r.height as i64).filter(|y| y % 6 < 3) {
        r.set(x, y, ONSET);
    }
    r
}

/// ECG paper right of the margin: a line every millimetre, a darker one every 5 mm.
fn grid(r: &mut Raster, margin: usize) {
    for y in 0..r.height {
        for x in margin..r.width {
            let (gx, gy) = (x - margin, y);
            let (major_px, minor_px) = (MAJOR_MM * PX_PER_MM, MINOR_MM * PX_PER_MM);
            let major = gx % major_px == 0 || gy % major_px == 0;
            let minor = gx % minor_px == 0 || gy % minor_px == 0;
            if major {
                r.pixels[y * r.width + x] = MAJOR;
            } else if minor {
                r.pixels[y * r.width + x] = MINOR;
            }
        }
    }
}

/// The 1 mV × 200 ms pulse in the margin, on the band's baseline.
fn calibration(r: &mut Raster, mid: i64) {
    let px = |mm: usize| (mm * PX_PER_MM) as i64;
    let top = mid - px(CAL_PULSE_HEIGHT_MM);
    let (a, b) = (px(2), px(2) + px(CAL_PULSE_WIDTH_MM));
    r.line((px(1), mid), (a, mid), INK);
    r.line((a, mid), (a, top), INK);
    r.line((a, top), (b, top), INK);
    r.line((b, top), (b, mid), INK);
    r.line((b, mid), (px(MARGIN_MM) - 2, mid), INK);
}

/// Why a strip could not be encoded (never expected: the raster is ours).
#[derive(Debug, thiserror::Error)]
#[error("strip image: {0}")]
pub struct EncodeError(#[from] png::EncodingError);

/// The raster as an indexed-colour PNG.
pub fn encode_png(r: &Raster) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    {
        let width = u32::try_from(r.width).unwrap_or(u32::MAX);
        let height = u32::try_from(r.height).unwrap_or(u32::MAX);
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(PALETTE.to_vec());
        // 127 dpi = 5000 px per metre: printed, the strip is true millimetres.
        encoder.set_pixel_dims(Some(png::PixelDimensions {
            xppu: (PX_PER_MM * 1000) as u32,
            yppu: (PX_PER_MM * 1000) as u32,
            unit: png::Unit::Meter,
        }));
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&r.pixels)?;
        writer.finish()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Nanos = 1_000_000;

    /// `seconds` of 2-lead ECG at 250 Hz: flat, with lead 0 stepping to +1 mV at `step_s`.
    fn frames(start: Nanos, seconds: i64, step_s: f64) -> Vec<(Nanos, Vec<i16>)> {
        (0..seconds * 250)
            .map(|i| {
                let t = start + i * 4 * MS;
                let up = (i as f64) / 250.0 >= step_s;
                (t, vec![if up { 1000 } else { 0 }, -500])
            })
            .collect()
    }

    fn ink_rows_in_column(r: &Raster, x: usize, band: usize) -> Vec<usize> {
        let h = LEAD_MM * PX_PER_MM;
        (band * h..(band + 1) * h)
            .filter(|&y| r.get(x, y) == INK)
            .collect()
    }

    #[test]
    fn the_scale_is_25_mm_per_second_and_10_mm_per_millivolt() {
        assert_eq!((PX_PER_S, PX_PER_MV), (125, 50));
        let start = 1_000 * NANOS_PER_SEC;
        let f = frames(start, STRIP_S, 3.0);
        let r = render(&StripSource {
            start_ns: start,
            onset_ns: start + 4 * NANOS_PER_SEC,
            frames: &f,
        });
        assert_eq!((r.width, r.height), (50 + 1250, 2 * 150));
        let margin = MARGIN_MM * PX_PER_MM;
        let mid = 75;
        // Before the step the trace is on the baseline, after it 1 mV = 50 px higher.
        assert!(ink_rows_in_column(&r, margin + 125, 0).contains(&mid));
        let after = ink_rows_in_column(&r, margin + 3 * 125 + 10, 0);
        assert!(after.contains(&(mid - 50)), "{after:?}");
        assert!(!after.contains(&mid), "{after:?}");
        // The step itself is the rise at 3 s = 375 px right of the paper's edge (drawn
        // from the sample before it, 4 ms = half a pixel earlier).
        let rise = ink_rows_in_column(&r, margin + 374, 0).len()
            + ink_rows_in_column(&r, margin + 375, 0).len();
        assert!(rise > 50, "the rise is drawn: {rise} px");
        assert!(ink_rows_in_column(&r, margin + 376, 0).len() <= 2);
        // Lead 1 sits 0.5 mV = 25 px below its band's baseline.
        assert!(ink_rows_in_column(&r, margin + 500, 1).contains(&(150 + mid + 25)));
        // The onset at 4 s: 500 px in, dashed.
        assert_eq!(r.get(margin + 500, 0), ONSET);
        assert_ne!(r.get(margin + 500, 4), ONSET);
        // The calibration pulse is 50 px (1 mV) tall and 25 px (200 ms) wide.
        let pulse = ink_rows_in_column(&r, 2 * PX_PER_MM, 0);
        assert_eq!(
            (pulse[0], *pulse.last().expect("rows")),
            (mid - 50, mid + 1)
        );
        assert!(ink_rows_in_column(&r, 2 * PX_PER_MM + 25, 0).contains(&(mid - 40)));
    }

    #[test]
    fn large_squares_are_5_mm_and_small_ones_1_mm() {
        let r = render(&StripSource {
            start_ns: 0,
            onset_ns: 0,
            frames: &[],
        });
        let margin = MARGIN_MM * PX_PER_MM;
        let y = 3; // a row between lines, in a gap of the onset's dashes
        let majors: Vec<usize> = (margin..r.width)
            .filter(|&x| r.get(x, y) == MAJOR)
            .collect();
        assert!(majors.windows(2).all(|w| w[1] - w[0] == 25), "{majors:?}");
        assert_eq!(majors.len(), 50, "every 5 mm over 250 mm");
        assert_eq!(r.get(margin + 5, y), MINOR);
        assert_eq!(r.get(margin + 7, y), PAPER);
        assert_eq!(r.get(margin - 3, y), PAPER, "no paper under the pulse");
    }

    #[test]
    fn a_gap_in_the_stored_ecg_lifts_the_pen() {
        let start = 0;
        let mut f = frames(start, 2, 99.0);
        f.extend(frames(start + 5 * NANOS_PER_SEC, 2, 99.0));
        let r = render(&StripSource {
            start_ns: start,
            onset_ns: start,
            frames: &f,
        });
        let margin = MARGIN_MM * PX_PER_MM;
        assert!(!ink_rows_in_column(&r, margin + 125, 0).is_empty());
        assert!(ink_rows_in_column(&r, margin + 3 * 125, 0).is_empty());
        assert!(!ink_rows_in_column(&r, margin + 6 * 125, 0).is_empty());
    }

    #[test]
    fn the_window_ends_at_the_fire_or_six_seconds_after_the_onset() {
        let s = NANOS_PER_SEC;
        assert_eq!(window(100 * s, 130 * s), (96 * s, 106 * s));
        assert_eq!(window(100 * s, 102 * s), (92 * s, 102 * s));
    }

    #[test]
    fn the_png_decodes_to_the_raster() {
        let f = frames(0, STRIP_S, 1.0);
        let r = render(&StripSource {
            start_ns: 0,
            onset_ns: 0,
            frames: &f,
        });
        let bytes = encode_png(&r).expect("png");
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::IDENTITY);
        let mut reader = decoder.read_info().expect("png header");
        let info = reader.info();
        assert_eq!((info.width, info.height), (1300, 300));
        assert_eq!(info.color_type, png::ColorType::Indexed);
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let frame = reader.next_frame(&mut buf).expect("pixels");
        assert_eq!(&buf[..frame.buffer_size()], &r.pixels[..]);
    }
}
