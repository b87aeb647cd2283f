//! Helpers shared by the accuracy tests: resampling, synthetic noise (EC57 scoring is
//! `cw-ec57`).

pub mod noise;
pub mod resample;
