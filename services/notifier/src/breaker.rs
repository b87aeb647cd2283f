//! A circuit breaker per provider: after N consecutive failures the provider is not
//! called for a while, so deliveries fail over to other channels at once instead of
//! each waiting for its own timeout.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a call may go out now. After the open period calls are let through again
    /// (half-open): one more failure re-opens the circuit, a success closes it.
    pub fn allows(&self) -> bool {
        self.lock().open_until.is_none_or(|t| Instant::now() >= t)
    }

    pub fn is_open(&self) -> bool {
        !self.allows()
    }

    /// How long the circuit stays open from now; `None` while calls may go out. A row
    /// that meets an open circuit waits this long without spending a try (docs/architecture.md,
    /// notifier: retries run to the clinical deadline).
    pub fn closes_in(&self) -> Option<Duration> {
        let until = self.lock().open_until?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    pub fn success(&self) {
        let mut s = self.lock();
        s.consecutive_failures = 0;
        s.open_until = None;
    }

    pub fn failure(&self) {
        let mut s = self.lock();
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        if s.consecutive_failures >= self.threshold {
            s.open_until = Some(Instant::now() + self.open_for);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_closes_on_success() {
        let b = Breaker::new(2, Duration::from_secs(60));
        b.failure();
        assert!(b.allows());
        b.failure();
        assert!(b.is_open());
        assert!(b.closes_in().is_some_and(|d| d <= Duration::from_secs(60)));
        b.success();
        assert_eq!(b.closes_in(), None);
        assert!(b.allows());
    }

    #[test]
    fn half_open_after_the_open_period() {
        let b = Breaker::new(1, Duration::from_millis(0));
        b.failure();
        assert!(b.allows(), "zero open period lets the next call probe");
    }
}
