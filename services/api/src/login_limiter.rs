//! Login attempts per source address per minute (in memory, per api replica); with the
//! per-account lockout in the store this bounds password guessing from anywhere. And
//! [`UnknownLogins`]: the same lockout for names with no login, so 423 does not tell
//! which logins exist.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Beyond this many tracked addresses, expired windows are swept.
const SWEEP_AT: usize = 10_000;

pub struct LoginLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; `false` when this address is over its limit.
    pub fn allow(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > SWEEP_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_minute
    }
}

/// The lockout of the store (`CredentialStore::begin_login_attempt`) played for login
/// names that do not exist, in memory: an unknown name is locked after the same number
/// of attempts, for the same time, as a real one (issue 13 #15).
pub struct UnknownLogins {
    max_failures: u32,
    lock: Duration,
    names: Mutex<HashMap<String, (u32, Option<Instant>)>>,
}

/// Names longer than this count as their first this-many characters (bounded memory).
const NAME_CHARS: usize = 128;

impl UnknownLogins {
    pub fn new(max_failures: u32, lock: Duration) -> Self {
        Self {
            max_failures,
            lock,
            names: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt for `name`; `false` when it is locked (answer 423, as for a
    /// real login).
    pub fn attempt(&self, name: &str) -> bool {
        let now = Instant::now();
        let mut names = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if names.len() > SWEEP_AT {
            names.retain(|_, (failures, locked)| {
                *failures > 0 || locked.is_some_and(|until| until > now)
            });
            if names.len() > SWEEP_AT {
                // Still full of fresh counts (a spray of names): start over rather than grow.
                names.clear();
            }
        }
        let key: String = name.chars().take(NAME_CHARS).collect();
        let (failures, locked) = names.entry(key).or_insert((0, None));
        if locked.is_some_and(|until| until > now) {
            return false;
        }
        *failures += 1;
        if *failures >= self.max_failures {
            *failures = 0;
            *locked = Some(now + self.lock);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_name_locks_after_max_failures_like_a_login() {
        let unknown = UnknownLogins::new(3, Duration::from_secs(60));
        assert!((0..3).all(|_| unknown.attempt("nobody")));
        assert!(!unknown.attempt("nobody"));
        assert!(unknown.attempt("somebody-else"));
    }

    #[test]
    fn an_address_over_its_limit_is_refused_and_others_are_not() {
        let limiter = LoginLimiter::new(3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!((0..3).all(|_| limiter.allow(a)));
        assert!(!limiter.allow(a));
        assert!(limiter.allow(b));
    }
}
