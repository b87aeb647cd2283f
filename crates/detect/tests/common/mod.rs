//! Helpers shared by the accuracy tests: EC57 scoring, resampling, synthetic noise.

pub mod noise;
pub mod resample;
pub mod scoring;
