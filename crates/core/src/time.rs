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

/// A UTC calendar date and time of day, for formats that write dates as text (EDF,
/// WFDB headers, FHIR instants, RFC 2822) without a date crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0–999 999 999.
    pub nanos: u32,
}

impl UtcDateTime {
    /// The UTC date and time of `ns` (before 1970 too).
    pub fn from_nanos(ns: Nanos) -> Self {
        let secs = ns.div_euclid(NANOS_PER_SEC);
        let nanos = ns.rem_euclid(NANOS_PER_SEC) as u32;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            nanos,
        }
    }

    /// Days since 1970-01-01 (Thursday): `days % 7` indexes Thu, Fri, …
    pub fn days_since_epoch(ns: Nanos) -> i64 {
        ns.div_euclid(NANOS_PER_SEC).div_euclid(86_400)
    }

    /// RFC 3339 / FHIR `instant` with millisecond precision: `2026-12-07T04:51:41.123Z`.
    pub fn rfc3339_millis(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.nanos / 1_000_000
        )
    }
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31); Howard Hinnant's
/// `civil_from_days`, valid for negative days too.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod calendar_tests {
    use super::*;

    #[test]
    fn known_instants_and_dates_before_the_epoch() {
        let t = UtcDateTime::from_nanos(951_782_400 * NANOS_PER_SEC + 5_000_000);
        assert_eq!((t.year, t.month, t.day, t.hour), (2000, 2, 29, 0));
        assert_eq!(t.rfc3339_millis(), "2000-02-29T00:00:00.005Z");
        let t = UtcDateTime::from_nanos(1_776_158_700 * NANOS_PER_SEC);
        assert_eq!(t.rfc3339_millis(), "2026-04-14T09:25:00.000Z");
        let t = UtcDateTime::from_nanos(-1);
        assert_eq!(t.rfc3339_millis(), "1969-12-31T23:59:59.999Z");
        assert_eq!(UtcDateTime::days_since_epoch(-1), -1);
    }
}
