pub mod alerts;
pub mod audit;
pub mod auth;
pub mod break_glass;
pub mod devices;
pub mod ecg;
pub mod patients;
pub mod thresholds;
