//! Addresses of the real servers `scripts/test` started. Missing means the tests were not
//! run through `scripts/test`: fail loudly, never skip.

pub fn required(var: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{var} is not set: run the tests with `scripts/test`, which starts InfluxDB, the MongoDB-protocol server and the provider emulators"
        ),
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A unique, valid database name for one test.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", cw_core::AlertId::random())
}
