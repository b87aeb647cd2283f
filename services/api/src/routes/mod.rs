pub mod alerts;
pub mod audit;
pub mod break_glass;
pub mod patients;
pub mod thresholds;
