//! Standard ECG paper, the scale every strip we draw declares (docs/console.md, "The
//! strip" and "Deep links in pages"; docs/reports.md): 25 mm/s and 10 mm/mV on a grid
//! of 1 mm small squares and 5 mm large ones, each lead preceded by a 1 mV × 200 ms
//! calibration pulse. One table for the email's PNG strip (cw-notifier `strip_image`)
//! and the report's PDF strips (cw-api `monitoring_report::paper`); the console's SVG
//! strip (services/api/console/strip.js) uses the same values but, being JavaScript,
//! keeps its own copy.

/// Paper speed: millimetres per second.
pub const MM_PER_S: usize = 25;
/// Gain: millimetres per millivolt.
pub const MM_PER_MV: usize = 10;
/// The grid: a thin line every millimetre, a thick one every 5 mm (0.2 s, 0.5 mV).
pub const MINOR_MM: usize = 1;
pub const MAJOR_MM: usize = 5;
/// The calibration pulse: 1 mV tall, 200 ms wide.
pub const CAL_PULSE_MV: usize = 1;
pub const CAL_PULSE_MS: usize = 200;
/// The pulse on paper: 10 mm tall and 5 mm wide.
pub const CAL_PULSE_HEIGHT_MM: usize = CAL_PULSE_MV * MM_PER_MV;
pub const CAL_PULSE_WIDTH_MM: usize = CAL_PULSE_MS * MM_PER_S / 1000;
