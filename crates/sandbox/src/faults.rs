//! Provider misbehaviour on demand, for retry, failover and crash tests: refuse with a
//! 5xx, or record a request and then hold the answer (a slow provider, or one whose
//! answer is lost to the client's timeout although the message went out).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

#[derive(Default)]
pub(crate) struct Faults {
    state: Mutex<State>,
    refused: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Refuse this many requests with `status`, then behave.
    fail_next: u32,
    /// Refuse every request with this status until cleared.
    fail_all: Option<u16>,
    fail_status: u16,
    /// Hold every answer this long after recording.
    delay: Option<Duration>,
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn fail_next(&self, n: u32, status: u16) {
        let mut s = self.lock();
        s.fail_next = n;
        s.fail_status = status;
    }

    pub(crate) fn fail_all(&self, status: Option<u16>) {
        self.lock().fail_all = status;
    }

    pub(crate) fn delay_answers(&self, delay: Option<Duration>) {
        self.lock().delay = delay;
    }

    /// The status to refuse this request with, if any (and counts it).
    pub(crate) fn refusal(&self) -> Option<u16> {
        let status = {
            let mut s = self.lock();
            if let Some(status) = s.fail_all {
                Some(status)
            } else if s.fail_next > 0 {
                s.fail_next -= 1;
                Some(s.fail_status)
            } else {
                None
            }
        };
        if status.is_some() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        status
    }

    pub(crate) fn delay(&self) -> Option<Duration> {
        self.lock().delay
    }

    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}
