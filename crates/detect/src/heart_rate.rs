//! Heart rate from detected beats: beat-to-beat and averaged over the last N intervals
//! (bedside monitors use about 12).

use crate::detector::Beat;

/// One heart-rate reading, produced at each beat after the first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HrReading {
    /// Sample index of the beat that closed the interval.
    pub sample: u64,
    pub rr_s: f64,
    pub instant_bpm: f32,
    pub average_bpm: f32,
}

/// Running heart rate for one patient. The RR ring is allocated once, in `new`.
#[derive(Clone, Debug)]
pub struct HeartRate {
    fs: f64,
    last: Option<u64>,
    rr: Vec<f64>,
    next: usize,
    filled: usize,
    sum: f64,
}

impl HeartRate {
    /// `average_beats` is the number of RR intervals averaged (at least 1).
    pub fn new(fs_hz: f64, average_beats: usize) -> Self {
        HeartRate {
            fs: fs_hz,
            last: None,
            rr: vec![0.0; average_beats.max(1)],
            next: 0,
            filled: 0,
            sum: 0.0,
        }
    }

    /// Feed a beat; returns a reading once an interval is known. Beats that do not move
    /// forward in time are ignored (None).
    pub fn on_beat(&mut self, beat: Beat) -> Option<HrReading> {
        let previous = self.last;
        if previous.is_some_and(|p| beat.sample <= p) {
            return None;
        }
        self.last = Some(beat.sample);
        let rr_s = (beat.sample - previous?) as f64 / self.fs;
        if !(rr_s.is_finite() && rr_s > 0.0) {
            return None;
        }
        self.sum += rr_s - self.rr[self.next];
        self.rr[self.next] = rr_s;
        self.next = (self.next + 1) % self.rr.len();
        self.filled = (self.filled + 1).min(self.rr.len());
        // Recompute the sum once per turn of the ring so float drift cannot accumulate.
        if self.next == 0 {
            self.sum = self.rr.iter().sum();
        }
        let mean = self.sum / self.filled as f64;
        Some(HrReading {
            sample: beat.sample,
            rr_s,
            instant_bpm: (60.0 / rr_s) as f32,
            average_bpm: (60.0 / mean) as f32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_and_average() {
        let mut hr = HeartRate::new(250.0, 2);
        assert_eq!(hr.on_beat(Beat { sample: 100 }), None);
        let r = hr.on_beat(Beat { sample: 350 }).expect("reading");
        assert_eq!((r.rr_s, r.instant_bpm, r.average_bpm), (1.0, 60.0, 60.0));
        let r = hr.on_beat(Beat { sample: 475 }).expect("reading");
        assert_eq!(r.instant_bpm, 120.0);
        assert_eq!(r.average_bpm, 80.0); // mean RR 0.75 s
        let r = hr.on_beat(Beat { sample: 600 }).expect("reading");
        assert_eq!(r.average_bpm, 120.0, "only the last 2 intervals count");
        assert_eq!(hr.on_beat(Beat { sample: 600 }), None, "not moving forward");
    }
}
