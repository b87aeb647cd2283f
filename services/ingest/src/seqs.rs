//! What ingest remembers of each device's sequence numbers: the highest stored (for the
//! stale-seq window and the jump limit) and the recently published ones (so a resend is stored again but
//! published once). In memory: after a restart the window starts afresh, and a resend
//! of a block published before the restart is published again (the engine tolerates a
//! repeated block; the store overwrites it).

use cw_bus::Deduper;
use cw_core::DeviceId;
use std::collections::HashMap;
use std::sync::Mutex;

struct DeviceSeqs {
    /// The highest seq of a frame stored since ingest started; `None` before the first.
    highest: Option<u64>,
    published: Deduper,
}

/// Why a frame's seq is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SeqRefusal {
    /// More than the window behind the highest stored seq: too old to deduplicate.
    Stale { oldest: u64 },
    /// Beyond what a counter reaches (`> i64::MAX`, the stores' integer range) or more
    /// than `max_jump` above the highest stored seq.
    OutOfRange { limit: u64 },
}

pub struct SeqWindows {
    /// How far behind a device's highest seq a frame may be and still be accepted; also
    /// how many published seqs are remembered, so anything accepted is deduped.
    window: u64,
    /// How far above a device's highest stored seq a frame may jump.
    max_jump: u64,
    devices: Mutex<HashMap<DeviceId, DeviceSeqs>>,
}

/// The largest seq any store keeps (SQLite integers and InfluxDB fields are signed).
const MAX_SEQ: u64 = i64::MAX as u64;

impl SeqWindows {
    pub fn new(window: u64, max_jump: u64) -> Self {
        Self {
            window: window.max(1),
            max_jump: max_jump.max(1),
            devices: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, device: &DeviceId, f: impl FnOnce(&mut DeviceSeqs) -> T) -> T {
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        let entry = devices.entry(device.clone()).or_insert_with(|| DeviceSeqs {
            highest: None,
            published: Deduper::new(usize::try_from(self.window).unwrap_or(usize::MAX)),
        });
        f(entry)
    }

    /// Whether `seq` may be written: not more than the window behind the device's
    /// highest stored seq, not absurdly far ahead of it. Changes nothing — the window
    /// moves only when a write succeeded ([`SeqWindows::stored`]), so a frame that is
    /// refused or fails to store cannot lock its device out.
    pub fn admit(&self, device: &DeviceId, seq: u64) -> Result<(), SeqRefusal> {
        let (window, max_jump) = (self.window, self.max_jump);
        self.with(device, |d| {
            let limit = d
                .highest
                .map_or(MAX_SEQ, |h| h.saturating_add(max_jump).min(MAX_SEQ));
            if seq > limit {
                return Err(SeqRefusal::OutOfRange { limit });
            }
            let oldest = d.highest.unwrap_or(0).saturating_sub(window);
            if seq < oldest {
                return Err(SeqRefusal::Stale { oldest });
            }
            Ok(())
        })
    }

    /// A frame with `seq` is durably stored: the device's window may move up to it.
    pub fn stored(&self, device: &DeviceId, seq: u64) {
        self.with(device, |d| {
            d.highest = Some(d.highest.map_or(seq, |h| h.max(seq)))
        });
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
        let w = SeqWindows::new(10, 1_000);
        assert_eq!(w.admit(&dev("a"), 100), Ok(()));
        w.stored(&dev("a"), 100);
        assert_eq!(w.admit(&dev("a"), 90), Ok(()), "exactly the window back");
        assert_eq!(
            w.admit(&dev("a"), 89),
            Err(SeqRefusal::Stale { oldest: 90 })
        );
        assert_eq!(w.admit(&dev("a"), 95), Ok(()), "a resend inside the window");
        assert_eq!(w.admit(&dev("b"), 1), Ok(()), "windows are per device");
    }

    #[test]
    fn only_a_stored_frame_moves_the_window() {
        let w = SeqWindows::new(10, 1_000);
        assert_eq!(w.admit(&dev("a"), 500), Ok(()));
        // Its write failed: nothing stored, so nothing moved.
        assert_eq!(w.admit(&dev("a"), 5), Ok(()));
        w.stored(&dev("a"), 5);
        w.stored(&dev("a"), 3);
        assert_eq!(w.admit(&dev("a"), 4), Ok(()), "the highest stays 5");
    }

    #[test]
    fn absurd_seqs_are_out_of_range_and_move_nothing() {
        let w = SeqWindows::new(10, 1_000);
        let huge = SeqRefusal::OutOfRange {
            limit: i64::MAX as u64,
        };
        assert_eq!(w.admit(&dev("a"), u64::MAX), Err(huge));
        assert_eq!(
            w.admit(&dev("a"), i64::MAX as u64),
            Ok(()),
            "the first frame may start anywhere storable"
        );
        w.stored(&dev("a"), 100);
        assert_eq!(
            w.admit(&dev("a"), 1_101),
            Err(SeqRefusal::OutOfRange { limit: 1_100 })
        );
        assert_eq!(w.admit(&dev("a"), 1_100), Ok(()));
        assert_eq!(w.admit(&dev("a"), 95), Ok(()), "still the device's window");
    }

    #[test]
    fn a_seq_is_published_once() {
        let w = SeqWindows::new(10, 1_000);
        assert!(w.first_publication(&dev("a"), 7));
        assert!(!w.first_publication(&dev("a"), 7));
        assert!(w.first_publication(&dev("b"), 7));
    }
}
