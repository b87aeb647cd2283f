//! How often a reader warns about bus messages that did not open: at most once per
//! interval. A wrong key or an envelope version this build does not know on a samples
//! topic would otherwise log thousands of lines a second; every rejection is still
//! counted (`events::MessageRejected` writes the line and moves the counter).

use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(crate) struct RejectLog {
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl RejectLog {
    /// `Some(rejections not logged since the last line)` when this rejection is to be
    /// logged: none was logged less than `EVERY` ago.
    pub(crate) fn due(&mut self) -> Option<u64> {
        self.due_at(Instant::now())
    }

    fn due_at(&mut self, now: Instant) -> Option<u64> {
        if self
            .last_logged
            .is_some_and(|last| now.duration_since(last) < EVERY)
        {
            self.suppressed += 1;
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_rejections_logs_one_line_per_interval() {
        let mut log = RejectLog::default();
        let t0 = Instant::now();
        assert_eq!(log.due_at(t0), Some(0), "the first is logged");
        for ms in 1..1_000 {
            assert_eq!(log.due_at(t0 + Duration::from_millis(ms)), None);
        }
        assert_eq!(
            log.due_at(t0 + EVERY),
            Some(999),
            "one interval later, saying how many were not logged"
        );
        assert_eq!(log.suppressed, 0);
    }
}
