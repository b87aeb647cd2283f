//! Time is nanoseconds since the Unix epoch (`i64`), as InfluxDB stores it.

pub type Nanos = i64;

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Seconds (possibly fractional) to nanoseconds.
pub fn secs(s: f64) -> Nanos {
    (s * NANOS_PER_SEC as f64).round() as Nanos
}

/// The wall clock now. Rules use sample time, not this; this is for receipt times,
/// latency accounting and audit.
pub fn now_ns() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as Nanos)
        .unwrap_or_default()
}
