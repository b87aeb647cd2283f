//! When a failed delivery is tried again: exponential backoff with jitter, never past
//! the alert's clinical deadline.

use crate::config::Reliability;
use cw_core::time::Nanos;

/// The time of the next try after `tries` calls failed, or `None` when the row should be
/// given up: the next try would land past `deadline_ns`, or `max_tries` (0 = no count
/// limit, the default) calls were made. Retries run to the clinical deadline, so a
/// provider outage shorter than it loses no message.
///
/// Jitter is "equal jitter" (half fixed, half random) so that many deliveries failing
/// together (a provider outage) do not all come back in the same instant; it is derived
/// from the idempotency key so every replica computes the same schedule.
pub fn next_try(
    cfg: &Reliability,
    key: &str,
    tries: u32,
    now_ns: Nanos,
    deadline_ns: Nanos,
) -> Option<Nanos> {
    if cfg.max_tries > 0 && tries >= cfg.max_tries {
        return None;
    }
    let exp = tries.saturating_sub(1).min(20);
    let delay_ms = cfg
        .retry_base_ms
        .saturating_mul(1 << exp)
        .min(cfg.retry_max_ms)
        .max(1);
    let half = delay_ms / 2;
    let jitter = fnv1a(key, tries) % (delay_ms - half + 1);
    let at = now_ns + ((half + jitter) as Nanos) * 1_000_000;
    (at <= deadline_ns).then_some(at)
}

fn fnv1a(key: &str, tries: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(tries.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Reliability {
        Reliability {
            retry_base_ms: 1_000,
            retry_max_ms: 8_000,
            max_tries: 5,
            ..Reliability::default()
        }
    }

    #[test]
    fn delays_double_within_jitter_bounds_and_cap() {
        let far = i64::MAX / 2;
        for (tries, (lo, hi)) in [(1, (500, 1_000)), (2, (1_000, 2_000)), (4, (4_000, 8_000))] {
            let at = next_try(&cfg(), "k", tries, 0, far).expect("due");
            let ms = at / 1_000_000;
            assert!((lo..=hi).contains(&ms), "try {tries}: {ms} ms");
        }
        assert_eq!(next_try(&cfg(), "k", 5, 0, far), None, "tries used up");
    }

    #[test]
    fn without_a_count_limit_only_the_deadline_ends_retries() {
        let unlimited = Reliability {
            max_tries: 0,
            ..cfg()
        };
        let deadline = 300 * 1_000_000_000;
        assert!(next_try(&unlimited, "k", 40, 0, deadline).is_some());
        assert_eq!(next_try(&unlimited, "k", 40, deadline, deadline), None);
    }

    #[test]
    fn never_past_the_deadline() {
        assert_eq!(next_try(&cfg(), "k", 4, 0, 1_000_000_000), None);
        assert!(next_try(&cfg(), "k", 1, 0, 1_000_000_000).is_some());
    }

    #[test]
    fn jitter_differs_between_keys() {
        let far = i64::MAX / 2;
        let times: std::collections::HashSet<_> = (0..20)
            .filter_map(|i| next_try(&cfg(), &format!("k{i}"), 3, 0, far))
            .collect();
        assert!(times.len() > 10, "{times:?}");
    }
}
