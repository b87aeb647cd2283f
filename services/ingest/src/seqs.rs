//! What ingest remembers of each device's sequence numbers: the highest seen (for the
//! stale-seq window) and the recently published ones (so a resend is stored again but
//! published once). In memory: after a restart the window starts afresh, and a resend
//! of a block published before the restart is published again (the engine tolerates a
//! repeated block; the store overwrites it).

use cw_bus::Deduper;
use cw_core::DeviceId;
use std::collections::HashMap;
use std::sync::Mutex;

struct DeviceSeqs {
    highest: u64,
    published: Deduper,
}

pub struct SeqWindows {
    /// How far behind a device's highest seq a frame may be and still be accepted; also
    /// how many published seqs are remembered, so anything accepted is deduped.
    window: u64,
    devices: Mutex<HashMap<DeviceId, DeviceSeqs>>,
}

impl SeqWindows {
    pub fn new(window: u64) -> Self {
        Self {
            window: window.max(1),
            devices: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, device: &DeviceId, f: impl FnOnce(&mut DeviceSeqs) -> T) -> T {
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        let entry = devices.entry(device.clone()).or_insert_with(|| DeviceSeqs {
            highest: 0,
            published: Deduper::new(usize::try_from(self.window).unwrap_or(usize::MAX)),
        });
        f(entry)
    }

    /// Accepts `seq` unless it is more than the window behind the device's highest seq;
    /// a refusal returns the oldest seq still accepted.
    pub fn admit(&self, device: &DeviceId, seq: u64) -> Result<(), u64> {
        let window = self.window;
        self.with(device, |d| {
            let oldest = d.highest.saturating_sub(window);
            if seq < oldest {
                return Err(oldest);
            }
            d.highest = d.highest.max(seq);
            Ok(())
        })
    }

    /// True the first time a stored `(device, seq)` is about to be published.
    pub fn first_publication(&self, device: &DeviceId, seq: u64) -> bool {
        self.with(device, |d| d.published.first_time(u128::from(seq)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(id: &str) -> DeviceId {
        DeviceId::parse(id).expect("valid")
    }

    #[test]
    fn seqs_older_than_the_window_are_refused_and_newer_ones_accepted() {
        let w = SeqWindows::new(10);
        assert_eq!(w.admit(&dev("a"), 100), Ok(()));
        assert_eq!(w.admit(&dev("a"), 90), Ok(()), "exactly the window back");
        assert_eq!(w.admit(&dev("a"), 89), Err(90));
        assert_eq!(w.admit(&dev("a"), 95), Ok(()), "a resend inside the window");
        assert_eq!(w.admit(&dev("b"), 1), Ok(()), "windows are per device");
    }

    #[test]
    fn a_seq_is_published_once() {
        let w = SeqWindows::new(10);
        assert!(w.first_publication(&dev("a"), 7));
        assert!(!w.first_publication(&dev("a"), 7));
        assert!(w.first_publication(&dev("b"), 7));
    }
}
