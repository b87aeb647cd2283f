//! RFC 2822 dates, the format of Twilio's `date_created` fields
//! ("Tue, 14 Apr 2026 09:25:00 +0000"), without pulling in a date crate for one field.

use cw_core::time::{NANOS_PER_SEC, UtcDateTime};
use std::time::{SystemTime, UNIX_EPOCH};

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

pub(crate) fn now_rfc2822() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_rfc2822(secs)
}

fn format_rfc2822(unix_secs: u64) -> String {
    let ns = i64::try_from(unix_secs)
        .unwrap_or(i64::MAX / NANOS_PER_SEC)
        .saturating_mul(NANOS_PER_SEC);
    let t = UtcDateTime::from_nanos(ns);
    let weekday = UtcDateTime::days_since_epoch(ns).rem_euclid(7) as usize;
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[weekday],
        t.day,
        MONTHS[(t.month - 1) as usize],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            format_rfc2822(951_782_400),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
        assert_eq!(
            format_rfc2822(1_776_158_700),
            "Tue, 14 Apr 2026 09:25:00 +0000"
        );
    }
}
