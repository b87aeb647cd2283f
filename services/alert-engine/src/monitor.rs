//! One patient's live analysis: beats → heart rate → rule state machines. Pure (no I/O):
//! it returns what should happen and the caller makes it so.

use cw_core::rule_state::{Direction, RuleState, Transition};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{HrLimit, RuleKind, SampleBlock, ThresholdPolicy};
use cw_detect::{HeartRate, HrReading, QrsDetector};

/// Something a rule decided, at sample time `at`.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleEvent {
    Fire {
        rule: RuleKind,
        started_ns: Nanos,
        at: Nanos,
        value: f32,
    },
    Resolve {
        rule: RuleKind,
        at: Nanos,
    },
}

/// The stream geometry the detector was built for; a change restarts it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Geometry {
    rate_hz: u32,
    leads: u8,
}

pub struct PatientMonitor {
    geometry: Option<Geometry>,
    detector: Option<QrsDetector>,
    heart_rate: Option<HeartRate>,
    /// Time of detector sample 0, and the time the next block should start at.
    origin_ns: Nanos,
    next_ns: Nanos,
    policy: ThresholdPolicy,
    hr_high: RuleState,
    hr_low: RuleState,
    last_reading: Option<HrReading>,
    readings: u64,
}

impl PatientMonitor {
    pub fn new(policy: ThresholdPolicy) -> Self {
        Self {
            geometry: None,
            detector: None,
            heart_rate: None,
            origin_ns: 0,
            next_ns: 0,
            policy,
            hr_high: RuleState::new(Direction::Above),
            hr_low: RuleState::new(Direction::Below),
            last_reading: None,
            readings: 0,
        }
    }

    /// Marks a rule as already firing (an open alert found in the store at start-up), so
    /// it resolves instead of raising a duplicate.
    pub fn adopt_open(&mut self, rule: RuleKind) {
        match rule {
            RuleKind::HrHigh => self.hr_high = RuleState::firing(Direction::Above),
            RuleKind::HrLow => self.hr_low = RuleState::firing(Direction::Below),
        }
    }

    /// The rule's transition could not be made durable: forget it, so it fires again.
    pub fn reset_rule(&mut self, rule: RuleKind) {
        match rule {
            RuleKind::HrHigh => self.hr_high.reset(),
            RuleKind::HrLow => self.hr_low.reset(),
        }
    }

    /// A new policy version. A removed rule forgets its state; the open alert, if any,
    /// stays for a person to acknowledge.
    pub fn set_policy(&mut self, policy: ThresholdPolicy) {
        if policy.hr_high.is_none() {
            self.hr_high.reset();
        }
        if policy.hr_low.is_none() {
            self.hr_low.reset();
        }
        let average_changed = policy.hr_average_beats != self.policy.hr_average_beats;
        self.policy = policy;
        if average_changed {
            self.heart_rate = None;
            self.detector = None;
            self.geometry = None;
        }
    }

    pub fn policy(&self) -> &ThresholdPolicy {
        &self.policy
    }

    pub fn last_reading(&self) -> Option<HrReading> {
        self.last_reading
    }

    /// Heart-rate readings so far (one per beat after the first).
    pub fn readings(&self) -> u64 {
        self.readings
    }

    /// Feeds one block; returns rule events in time order.
    pub fn process(&mut self, block: &SampleBlock) -> Vec<RuleEvent> {
        let geometry = Geometry {
            rate_hz: block.rate_hz,
            leads: block.leads,
        };
        let frame_ns = NANOS_PER_SEC / i64::from(block.rate_hz.max(1));
        let contiguous = (block.start_ns - self.next_ns).abs() <= frame_ns;
        if self.geometry != Some(geometry) || !contiguous {
            self.restart(geometry, block.start_ns);
        }
        let mut events = Vec::new();
        let (Some(detector), Some(heart_rate)) = (self.detector.as_mut(), self.heart_rate.as_mut())
        else {
            return events;
        };
        let fs = f64::from(block.rate_hz);
        for i in 0..block.frames() {
            let Some(beat) = detector.push(block.frame(i)) else {
                continue;
            };
            let Some(reading) = heart_rate.on_beat(beat) else {
                continue;
            };
            self.last_reading = Some(reading);
            self.readings += 1;
            let at = self.origin_ns + (reading.sample as f64 * 1e9 / fs) as Nanos;
            evaluate(
                &self.policy,
                &mut self.hr_high,
                &mut self.hr_low,
                at,
                reading.average_bpm,
                &mut events,
            );
        }
        self.next_ns = block.end_ns();
        events
    }

    /// A gap or a new stream geometry: beats before it cannot be joined to beats after.
    fn restart(&mut self, geometry: Geometry, start_ns: Nanos) {
        let fs = f64::from(geometry.rate_hz);
        self.detector = Some(QrsDetector::new(fs, usize::from(geometry.leads)));
        self.heart_rate = Some(HeartRate::new(
            fs,
            usize::from(self.policy.hr_average_beats.max(1)),
        ));
        self.geometry = Some(geometry);
        self.origin_ns = start_ns;
        self.next_ns = start_ns;
    }
}

fn evaluate(
    policy: &ThresholdPolicy,
    high: &mut RuleState,
    low: &mut RuleState,
    at: Nanos,
    bpm: f32,
    events: &mut Vec<RuleEvent>,
) {
    let rules: [(RuleKind, Option<&HrLimit>, &mut RuleState); 2] = [
        (RuleKind::HrHigh, policy.hr_high.as_ref(), high),
        (RuleKind::HrLow, policy.hr_low.as_ref(), low),
    ];
    for (rule, limit, state) in rules {
        let Some(limit) = limit else { continue };
        match state.observe(limit, at, bpm) {
            Some(Transition::Fire { started_ns, value }) => events.push(RuleEvent::Fire {
                rule,
                started_ns,
                at,
                value,
            }),
            Some(Transition::Resolve) => events.push(RuleEvent::Resolve { rule, at }),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{DeviceId, PatientId, Priority};

    const FS: u32 = 250;

    /// A synthetic ECG: a sharp 1.5 mV spike every `60/bpm` s on a flat line.
    fn synthetic(bpm: f64, seconds: f64, start_ns: Nanos) -> Vec<SampleBlock> {
        let n = (seconds * f64::from(FS)) as usize;
        let period = f64::from(FS) * 60.0 / bpm;
        let samples: Vec<i16> = (0..n)
            .map(|i| {
                let phase = (i as f64) % period;
                if phase < 3.0 {
                    1500 - (phase as i16) * 400
                } else {
                    0
                }
            })
            .collect();
        samples
            .chunks(FS as usize / 4)
            .enumerate()
            .map(|(k, chunk)| SampleBlock {
                patient: PatientId::parse("p").expect("valid"),
                device: DeviceId::parse("d").expect("valid"),
                seq: k as u64,
                start_ns: start_ns + (k as i64) * NANOS_PER_SEC / 4,
                rate_hz: FS,
                leads: 1,
                samples_uv: chunk.to_vec(),
                lead_off: false,
            })
            .collect()
    }

    fn policy_high(bpm: f32) -> ThresholdPolicy {
        ThresholdPolicy {
            hr_high: Some(HrLimit {
                bpm,
                priority: Priority::High,
                for_s: 2.0,
                hysteresis_bpm: 5.0,
                clear_s: 5.0,
            }),
            ..ThresholdPolicy::empty(PatientId::parse("p").expect("valid"))
        }
    }

    #[test]
    fn a_fast_rhythm_fires_hr_high_once() {
        let mut monitor = PatientMonitor::new(policy_high(100.0));
        let events: Vec<_> = synthetic(130.0, 30.0, 0)
            .iter()
            .flat_map(|b| monitor.process(b))
            .collect();
        let fires = events
            .iter()
            .filter(|e| matches!(e, RuleEvent::Fire { .. }))
            .count();
        assert_eq!(fires, 1, "{events:?}");
        let reading = monitor.last_reading().expect("heart rate measured");
        assert!((reading.average_bpm - 130.0).abs() < 3.0, "{reading:?}");
    }

    #[test]
    fn a_normal_rhythm_never_fires() {
        let mut monitor = PatientMonitor::new(policy_high(100.0));
        let events: Vec<_> = synthetic(70.0, 30.0, 0)
            .iter()
            .flat_map(|b| monitor.process(b))
            .collect();
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn an_adopted_open_alert_resolves_when_the_rate_settles() {
        let mut monitor = PatientMonitor::new(policy_high(100.0));
        monitor.adopt_open(RuleKind::HrHigh);
        let events: Vec<_> = synthetic(70.0, 30.0, 0)
            .iter()
            .flat_map(|b| monitor.process(b))
            .collect();
        assert!(
            matches!(
                events.as_slice(),
                [RuleEvent::Resolve {
                    rule: RuleKind::HrHigh,
                    ..
                }]
            ),
            "{events:?}"
        );
    }
}
