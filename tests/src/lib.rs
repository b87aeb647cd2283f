//! Harness for cross-service tests: builds the configs, starts the four service binaries
//! as child processes (killed on drop), and gives the test clients for each far end.

pub mod api;
pub mod axe;
pub mod cluster;
pub mod compose;
pub mod dnsmasq;
pub mod env;
pub mod idp;
pub mod influxd;
pub mod ingest;
pub mod live;
pub mod mongod;
pub mod notifier;
pub mod processes;
pub mod system;
pub mod tcp_balancer;
pub mod tcp_proxy;
pub mod webdriver;
