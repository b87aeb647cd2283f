//! cardiowatch api: what doctors use (docs/api.md). TLS only, JWT bearer auth, and a doctor
//! reaches only the patients assigned to them.

pub mod config;
pub mod token;

mod access;
mod access_rule;
pub mod accounts;
mod alert_view;
mod anonymous_denials;
mod app;
mod audit_trail;
mod authn;
mod console;
mod ecg_export;
mod error;
mod events;
mod fhir;
mod live;
mod login_limiter;
pub mod monitoring_report;
mod oidc;
mod oidc_flow;
mod openapi;
mod panic_guard;
pub mod password;
mod query;
mod request_id;
mod request_metrics;
mod routes;
mod security_headers;
pub mod sessions;
pub mod user_records;

pub use app::{Running, run, start};
pub use config::ApiConfig;
