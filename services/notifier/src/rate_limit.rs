//! Per-recipient sliding-window rate limit on new pages, so a flapping patient cannot
//! bury a doctor in texts (alarm fatigue). In memory: after a restart the window starts
//! empty, which errs on the side of paging.

use cw_core::UserId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub struct RateLimiter {
    max: u32,
    window: Duration,
    sent: Mutex<HashMap<UserId, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one page from `user`'s budget; false when it is spent.
    pub fn allow(&self, user: &UserId) -> bool {
        let now = Instant::now();
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        let times = sent.entry(user.clone()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.max as usize {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_per_user_within_the_window() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let (a, b) = (UserId::random(), UserId::random());
        assert!(limiter.allow(&a));
        assert!(limiter.allow(&a));
        assert!(!limiter.allow(&a), "third page within the window refused");
        assert!(limiter.allow(&b), "budgets are per recipient");
        let refill = RateLimiter::new(1, Duration::from_millis(0));
        assert!(refill.allow(&a));
        assert!(refill.allow(&a), "an elapsed window frees the budget");
    }
}
