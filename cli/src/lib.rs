//! The `cardiowatch` command's building blocks, public so cross-service tests drive the
//! same gateway simulator and demo fixture that people use.

pub mod audit;
pub mod backtest;
pub mod bench;
pub mod bench_alerts;
pub mod bench_alerts_stages;
pub mod bench_api;
pub mod bench_ingest;
pub mod bench_live;
pub mod bench_live_stages;
pub mod bench_notify;
pub mod bench_storage;
pub mod config_doc;
pub mod demo;
pub mod demo_phone;
pub mod devices;
pub mod ec57;
pub mod embedded_record;
pub mod fatigue;
pub mod fixture;
pub mod fleet;
pub mod gateway;
pub mod gateway_command;
pub mod gateway_vitals;
pub mod health;
pub mod in_process;
pub mod keys;
pub mod mongo_users;
pub mod report;
pub mod secret_arg;
pub mod secrets;
pub mod store_args;
pub mod users;
pub mod vitals_alarms;
pub mod vitals_profile;
pub mod vitals_record;
