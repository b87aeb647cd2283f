//! Warnings for bus messages that did not open, at most one per interval per reader. A
//! wrong key or an envelope version this build does not know on a samples topic would
//! otherwise log thousands of lines a second; every rejection is still counted in
//! `BusStats::rejected`.

use crate::BusError;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(crate) struct RejectLog {
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl RejectLog {
    /// Logs `error` unless a rejection was logged less than `EVERY` ago; the next line
    /// says how many were not logged in between. True when this one was logged.
    pub(crate) fn rejected(&mut self, error: &BusError) -> bool {
        self.rejected_at(error, Instant::now())
    }

    fn rejected_at(&mut self, error: &BusError, now: Instant) -> bool {
        if self
            .last_logged
            .is_some_and(|last| now.duration_since(last) < EVERY)
        {
            self.suppressed += 1;
            return false;
        }
        tracing::warn!(
            error = %error,
            not_logged_since_last = self.suppressed,
            "dropped a bus message that did not open (logged at most every 10 s; every one is counted)"
        );
        self.last_logged = Some(now);
        self.suppressed = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_rejections_logs_one_line_per_interval() {
        let mut log = RejectLog::default();
        let error = BusError::Rejected("authentication failed");
        let t0 = Instant::now();
        assert!(log.rejected_at(&error, t0), "the first is logged");
        for ms in 1..1_000 {
            assert!(!log.rejected_at(&error, t0 + Duration::from_millis(ms)));
        }
        assert_eq!(log.suppressed, 999);
        assert!(log.rejected_at(&error, t0 + EVERY), "one interval later");
        assert_eq!(log.suppressed, 0);
    }
}
