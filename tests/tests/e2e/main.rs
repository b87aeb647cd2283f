//! Cross-service tests in one binary: one link instead of one per file keeps CI's build
//! small (disk and time) and lets the port allocator in `cw_e2e::env` see every test.

mod api_accounts;
mod api_audit;
mod api_auth;
mod api_authz;
mod api_endpoints;
mod api_fuzz;
mod api_live;
mod api_live_slow;
mod api_logs;
mod api_oidc;
mod api_phi;
mod api_snooze;
mod api_users;
mod attacks_api;
mod attacks_edge;
mod compose;
mod engine_backtest;
mod engine_lifecycle;
mod engine_shards;
mod ingest;
mod ingest_backpressure;
mod ingest_batches;
mod ingest_devices_cli;
mod ingest_durability;
mod ingest_fleet;
mod ingest_identity;
mod notify_ack;
mod notify_ack_metrics;
mod notify_crash;
mod notify_digest;
mod notify_failover;
mod notify_reliability;
mod notify_routing;
mod notify_watchdog;
mod pipeline;
