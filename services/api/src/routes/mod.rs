pub mod alerts;
pub mod patients;
pub mod thresholds;
