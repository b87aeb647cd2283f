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

/// Nanoseconds of an RFC 3339 / FHIR `dateTime`: `YYYY-MM-DD` (midnight UTC) or
/// `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`. `None` for anything else or out of range.
pub fn parse_instant(text: &str) -> Option<Nanos> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(r)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month as u32, day as u32);
    // The day must exist (no 31 February): it maps back to itself.
    if civil_from_days(days) != (year, month as u32, day as u32) {
        return None;
    }
    let mut secs = days.checked_mul(86_400)?;
    let mut nanos: i64 = 0;
    if b.len() > 10 {
        if b[10] != b'T' || b.len() < 20 || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (h, m, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        if h > 23 || m > 59 || sec > 59 {
            return None;
        }
        secs += h * 3600 + m * 60 + sec;
        let mut rest = &text[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let end = frac
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(frac.len());
            if end == 0 || end > 9 {
                return None;
            }
            let padded = format!("{:0<9}", &frac[..end]);
            nanos = padded.parse().ok()?;
            rest = &frac[end..];
        }
        match rest {
            "Z" => {}
            zone if zone.len() == 6 && (zone.starts_with('+') || zone.starts_with('-')) => {
                if zone.as_bytes()[3] != b':' {
                    return None;
                }
                let (zh, zm) = (
                    zone[1..3].parse::<i64>().ok()?,
                    zone[4..6].parse::<i64>().ok()?,
                );
                if zh > 23
                    || zm > 59
                    || !zone[1..3]
                        .bytes()
                        .chain(zone[4..6].bytes())
                        .all(|c| c.is_ascii_digit())
                {
                    return None;
                }
                let offset = zh * 3600 + zm * 60;
                secs -= if zone.starts_with('+') {
                    offset
                } else {
                    -offset
                };
            }
            _ => return None,
        }
    }
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)
}

/// (year, month 1-12, day 1-31) → days since 1970-01-01; Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    #[test]
    fn instants_parse_back_and_nonsense_does_not() {
        for ns in [
            0,
            951_782_400 * NANOS_PER_SEC + 5_000_000,
            -1_000_000,
            1_765_000_000_123_000_000,
        ] {
            let text = UtcDateTime::from_nanos(ns).rfc3339_millis();
            assert_eq!(parse_instant(&text), Some(ns), "{text}");
        }
        assert_eq!(
            parse_instant("2025-12-06"),
            Some(1_764_979_200 * NANOS_PER_SEC)
        );
        assert_eq!(
            parse_instant("2025-12-06T07:46:40+02:00"),
            parse_instant("2025-12-06T05:46:40Z")
        );
        assert_eq!(
            parse_instant("2025-12-06T05:46:40.5Z"),
            Some(1_765_000_000 * NANOS_PER_SEC + 500_000_000)
        );
        for bad in [
            "",
            "2025-02-30",
            "2025-13-01",
            "2025-12-06T25:00:00Z",
            "2025-12-06T05:46:40",
            "2025-12-06T05:46:40.Z",
            "20251206",
            "2025-12-06T05:46:40+0200",
            "+025-12-06",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }
}
