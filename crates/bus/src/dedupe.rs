//! Remembers recent message ids so a consumer acts on each message once: a PUSH whose
//! send timed out may still be delivered and then be sent again.

use std::collections::{HashSet, VecDeque};

pub struct Deduper {
    seen: HashSet<u128>,
    order: VecDeque<u128>,
    capacity: usize,
}

impl Deduper {
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    /// True the first time an id is seen (within the last `capacity` ids).
    pub fn first_time(&mut self, id: u128) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_is_reported_once() {
        let mut d = Deduper::new(4);
        assert!(d.first_time(1));
        assert!(!d.first_time(1));
        assert!(d.first_time(2));
    }

    #[test]
    fn memory_is_bounded_by_capacity() {
        let mut d = Deduper::new(2);
        for id in 0..10 {
            assert!(d.first_time(id));
        }
        assert!(d.first_time(0), "id 0 was evicted long ago");
        assert!(d.seen.len() <= 2);
    }
}
