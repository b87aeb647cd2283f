//! Live ECG for a screen: each lead folded to at most `max_hz` buckets per second, each
//! bucket its min and max (µV), so a QRS spike survives subsampling — a plain "every k-th
//! sample" would drop it. The bucket in progress carries over to the next block, so the
//! output is continuous while the stream is.

use crate::routes::ecg::Bucket;
use cw_core::SampleBlock;
use cw_core::time::{NANOS_PER_SEC, Nanos};

pub struct Decimator {
    max_hz: u32,
    /// Stream geometry and where the next block should start; a change or a gap restarts.
    rate_hz: u32,
    leads: u8,
    next_ns: Nanos,
    /// Frames per bucket for the current rate.
    per_bucket: usize,
    open: Option<(Bucket, usize)>,
}

/// Complete buckets of one block, and their width.
#[derive(Debug)]
pub struct Decimated {
    pub bucket_ns: Nanos,
    pub buckets: Vec<Bucket>,
}

impl Decimator {
    pub fn new(max_hz: u32) -> Self {
        Self {
            max_hz: max_hz.max(1),
            rate_hz: 0,
            leads: 0,
            next_ns: 0,
            per_bucket: 1,
            open: None,
        }
    }

    /// Folds one block; returns the buckets it completed (none while one is still open).
    pub fn push(&mut self, block: &SampleBlock) -> Option<Decimated> {
        if block.rate_hz == 0 || block.leads == 0 {
            return None;
        }
        let frame_ns = NANOS_PER_SEC / i64::from(block.rate_hz);
        let contiguous = (block.start_ns - self.next_ns).abs() <= frame_ns;
        if block.rate_hz != self.rate_hz || block.leads != self.leads || !contiguous {
            self.rate_hz = block.rate_hz;
            self.leads = block.leads;
            self.per_bucket = (block.rate_hz.div_ceil(self.max_hz)).max(1) as usize;
            self.open = None;
        }
        self.next_ns = block.end_ns();
        let mut done = Vec::new();
        for i in 0..block.frames() {
            let frame = block.frame(i);
            match self.open.as_mut() {
                Some((bucket, n)) => {
                    for (lead, v) in frame.iter().enumerate() {
                        bucket.min[lead] = bucket.min[lead].min(*v);
                        bucket.max[lead] = bucket.max[lead].max(*v);
                    }
                    *n += 1;
                }
                None => {
                    let bucket = Bucket {
                        start_ns: block.time_of(i),
                        min: frame.to_vec(),
                        max: frame.to_vec(),
                    };
                    self.open = Some((bucket, 1));
                }
            }
            if self
                .open
                .as_ref()
                .is_some_and(|(_, n)| *n >= self.per_bucket)
                && let Some((bucket, _)) = self.open.take()
            {
                done.push(bucket);
            }
        }
        if done.is_empty() {
            return None;
        }
        Some(Decimated {
            bucket_ns: self.per_bucket as Nanos * NANOS_PER_SEC / i64::from(self.rate_hz),
            buckets: done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{DeviceId, PatientId};

    fn block(start_ns: Nanos, rate_hz: u32, samples: Vec<i16>) -> SampleBlock {
        SampleBlock {
            patient: PatientId::parse("p").expect("valid"),
            device: DeviceId::parse("d").expect("valid"),
            seq: 0,
            start_ns,
            rate_hz,
            leads: 2,
            samples_uv: samples,
            lead_off: false,
        }
    }

    #[test]
    fn a_360_hz_stream_becomes_at_most_50_buckets_per_second_and_a_spike_survives() {
        let mut d = Decimator::new(50);
        // One second, lead 0 flat except a one-sample spike; lead 1 a ramp.
        let mut samples = Vec::new();
        for i in 0..360i16 {
            samples.push(if i == 123 { 1500 } else { 0 });
            samples.push(i);
        }
        let out = d.push(&block(0, 360, samples)).expect("buckets");
        // 360 / 50 → 8 frames per bucket: 45 buckets (≤ 50 per second).
        assert_eq!(out.buckets.len(), 45);
        assert_eq!(out.bucket_ns, 8 * NANOS_PER_SEC / 360);
        let spike = out.buckets.iter().filter(|b| b.max[0] == 1500).count();
        assert_eq!(spike, 1, "the spike is in exactly one bucket's max");
        assert_eq!(out.buckets[0].min[1], 0);
        assert_eq!(out.buckets[0].max[1], 7);
    }

    #[test]
    fn a_bucket_carries_over_into_the_next_contiguous_block_and_a_gap_restarts() {
        let mut d = Decimator::new(50);
        let frame_ns = NANOS_PER_SEC / 250;
        // 250 Hz → 5 frames per bucket; 3 frames leave a bucket open.
        assert!(d.push(&block(0, 250, vec![1, 1, 2, 2, 3, 3])).is_none());
        let out = d
            .push(&block(3 * frame_ns, 250, vec![-4, 4, 5, 5]))
            .expect("the open bucket completes");
        assert_eq!(out.buckets.len(), 1);
        assert_eq!(out.buckets[0].start_ns, 0);
        assert_eq!(out.buckets[0].min, vec![-4, 1]);
        assert_eq!(out.buckets[0].max, vec![5, 5]);
        // A gap: the next bucket starts at the new block, not at the old open one.
        assert!(d.push(&block(NANOS_PER_SEC, 250, vec![9, 9])).is_none());
        let out = d
            .push(&block(NANOS_PER_SEC + frame_ns, 250, vec![0; 8]))
            .expect("completes");
        assert_eq!(out.buckets[0].start_ns, NANOS_PER_SEC);
        assert_eq!(out.buckets[0].max, vec![9, 9]);
    }
}
