//! NEWS2, the Royal College of Physicians' National Early Warning Score 2 (2017): a score
//! of 0–3 for each of seven parameters, summed, and the clinical response the aggregate
//! calls for. The bands, the SpO2 scale 2 option and the response thresholds are listed in
//! docs/vitals.md ("NEWS2"); this module is that table as code.
//!
//! Pure: the caller hands in the latest valid value of each parameter (a sensor-off value
//! is never a reading, so it never reaches here) and gets the aggregate, each component,
//! and which parameters were missing. A missing parameter scores nothing, so an incomplete
//! score is a lower bound: its escalation is never a false one, but "no escalation" from an
//! incomplete score is not reassurance, which is why [`News2::missing`] is reported.

use serde::{Deserialize, Serialize};

/// The score's types, shared with the stores and the api.
pub use cw_core::news2::{Component, News2, Parameter, Response};
/// The per-patient settings NEWS2 reads live in the policy (`cw_core::vitals`).
pub use cw_core::vitals::{Consciousness, Spo2Scale};

/// The latest valid value of each parameter; `None` where no valid value is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct News2Inputs {
    pub respiration_per_min: Option<f64>,
    pub spo2_pct: Option<f64>,
    /// Supplemental oxygen: `Some(true)` on oxygen, `Some(false)` on room air.
    pub on_oxygen: Option<bool>,
    pub systolic_mmhg: Option<f64>,
    pub pulse_per_min: Option<f64>,
    pub consciousness: Option<Consciousness>,
    pub temperature_c: Option<f64>,
}

/// Scores the inputs on the given SpO2 scale.
pub fn score(inputs: &News2Inputs, scale: Spo2Scale) -> News2 {
    let scored: [(Parameter, Option<u8>); 7] = [
        (
            Parameter::RespirationRate,
            inputs.respiration_per_min.and_then(respiration),
        ),
        (
            Parameter::Spo2,
            inputs
                .spo2_pct
                .and_then(|s| spo2(s, scale, inputs.on_oxygen)),
        ),
        (Parameter::AirOrOxygen, inputs.on_oxygen.map(air_or_oxygen)),
        (
            Parameter::SystolicBp,
            inputs.systolic_mmhg.and_then(systolic),
        ),
        (Parameter::Pulse, inputs.pulse_per_min.and_then(pulse)),
        (
            Parameter::Consciousness,
            inputs.consciousness.map(consciousness),
        ),
        (
            Parameter::Temperature,
            inputs.temperature_c.and_then(temperature),
        ),
    ];
    let mut components = Vec::with_capacity(7);
    let mut missing = Vec::new();
    for (parameter, score) in scored {
        match score {
            Some(score) => components.push(Component { parameter, score }),
            None => missing.push(parameter),
        }
    }
    let total = components.iter().map(|c| c.score).sum();
    let any_three = components.iter().any(|c| c.score == 3);
    News2 {
        total,
        components,
        missing,
        response: response(total, any_three),
    }
}

/// The RCP response for an aggregate and whether any single parameter scored 3.
pub fn response(total: u8, any_three: bool) -> Response {
    if total >= 7 {
        Response::Emergency
    } else if total >= 5 || any_three {
        Response::Urgent
    } else {
        Response::Routine
    }
}

/// The chart is charted in whole units (0.1 °C for temperature); a monitor's value is
/// rounded to that resolution first, so e.g. 20.4 /min scores as 20 and 20.5 as 21.
fn whole(v: f64) -> Option<i64> {
    v.is_finite().then(|| v.round() as i64)
}

fn respiration(v: f64) -> Option<u8> {
    Some(match whole(v)? {
        ..=8 => 3,
        9..=11 => 1,
        12..=20 => 0,
        21..=24 => 2,
        _ => 3,
    })
}

fn spo2(v: f64, scale: Spo2Scale, on_oxygen: Option<bool>) -> Option<u8> {
    let v = whole(v)?;
    Some(match scale {
        Spo2Scale::Scale1 => match v {
            ..=91 => 3,
            92..=93 => 2,
            94..=95 => 1,
            _ => 0,
        },
        // Above 92 % scale 2 scores only on oxygen (over-oxygenation); on air, or when
        // it is not known whether oxygen is given, 93 % and more score 0.
        Spo2Scale::Scale2 => match (v, on_oxygen == Some(true)) {
            (..=83, _) => 3,
            (84..=85, _) => 2,
            (86..=87, _) => 1,
            (88..=92, _) | (_, false) => 0,
            (93..=94, true) => 1,
            (95..=96, true) => 2,
            (_, true) => 3,
        },
    })
}

fn air_or_oxygen(on_oxygen: bool) -> u8 {
    if on_oxygen { 2 } else { 0 }
}

fn systolic(v: f64) -> Option<u8> {
    Some(match whole(v)? {
        ..=90 => 3,
        91..=100 => 2,
        101..=110 => 1,
        111..=219 => 0,
        _ => 3,
    })
}

fn pulse(v: f64) -> Option<u8> {
    Some(match whole(v)? {
        ..=40 => 3,
        41..=50 => 1,
        51..=90 => 0,
        91..=110 => 1,
        111..=130 => 2,
        _ => 3,
    })
}

fn consciousness(c: Consciousness) -> u8 {
    match c {
        Consciousness::Alert => 0,
        Consciousness::Cvpu => 3,
    }
}

fn temperature(v: f64) -> Option<u8> {
    Some(match whole(v * 10.0)? {
        ..=350 => 3,
        351..=360 => 1,
        361..=380 => 0,
        381..=390 => 1,
        _ => 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts each (value, score) pair: the pairs are the chart's band edges, both sides.
    fn bands(f: impl Fn(f64) -> Option<u8>, edges: &[(f64, u8)]) {
        for &(v, want) in edges {
            assert_eq!(f(v), Some(want), "value {v}");
        }
    }

    #[test]
    fn respiration_rate_bands() {
        bands(
            respiration,
            &[
                (0.0, 3),
                (8.0, 3),
                (9.0, 1),
                (11.0, 1),
                (12.0, 0),
                (20.0, 0),
                (21.0, 2),
                (24.0, 2),
                (25.0, 3),
                (60.0, 3),
            ],
        );
    }

    #[test]
    fn fractional_values_round_to_the_chart_resolution() {
        assert_eq!(respiration(20.49), Some(0));
        assert_eq!(respiration(20.5), Some(2));
        assert_eq!(pulse(90.4), Some(0));
        assert_eq!(pulse(90.5), Some(1));
        assert_eq!(temperature(38.04), Some(0));
        assert_eq!(temperature(38.05), Some(1));
        assert_eq!(temperature(35.04), Some(3));
        assert_eq!(respiration(f64::NAN), None);
        assert_eq!(temperature(f64::INFINITY), None);
    }

    #[test]
    fn spo2_scale_1_bands() {
        let s = |v| spo2(v, Spo2Scale::Scale1, Some(false));
        bands(
            s,
            &[
                (50.0, 3),
                (91.0, 3),
                (92.0, 2),
                (93.0, 2),
                (94.0, 1),
                (95.0, 1),
                (96.0, 0),
                (100.0, 0),
            ],
        );
        // Scale 1 does not depend on oxygen for the SpO2 component.
        assert_eq!(spo2(100.0, Spo2Scale::Scale1, Some(true)), Some(0));
    }

    #[test]
    fn spo2_scale_2_bands_on_air() {
        let s = |v| spo2(v, Spo2Scale::Scale2, Some(false));
        bands(
            s,
            &[
                (70.0, 3),
                (83.0, 3),
                (84.0, 2),
                (85.0, 2),
                (86.0, 1),
                (87.0, 1),
                (88.0, 0),
                (92.0, 0),
                (93.0, 0),
                (97.0, 0),
                (100.0, 0),
            ],
        );
    }

    #[test]
    fn spo2_scale_2_bands_on_oxygen() {
        let s = |v| spo2(v, Spo2Scale::Scale2, Some(true));
        bands(
            s,
            &[
                (83.0, 3),
                (84.0, 2),
                (85.0, 2),
                (86.0, 1),
                (87.0, 1),
                (88.0, 0),
                (92.0, 0),
                (93.0, 1),
                (94.0, 1),
                (95.0, 2),
                (96.0, 2),
                (97.0, 3),
                (100.0, 3),
            ],
        );
        // Oxygen unknown: the high bands need oxygen to be known.
        assert_eq!(spo2(98.0, Spo2Scale::Scale2, None), Some(0));
    }

    #[test]
    fn air_or_oxygen_scores() {
        assert_eq!(air_or_oxygen(false), 0);
        assert_eq!(air_or_oxygen(true), 2);
    }

    #[test]
    fn systolic_bands() {
        bands(
            systolic,
            &[
                (60.0, 3),
                (90.0, 3),
                (91.0, 2),
                (100.0, 2),
                (101.0, 1),
                (110.0, 1),
                (111.0, 0),
                (219.0, 0),
                (220.0, 3),
                (260.0, 3),
            ],
        );
    }

    #[test]
    fn pulse_bands() {
        bands(
            pulse,
            &[
                (20.0, 3),
                (40.0, 3),
                (41.0, 1),
                (50.0, 1),
                (51.0, 0),
                (90.0, 0),
                (91.0, 1),
                (110.0, 1),
                (111.0, 2),
                (130.0, 2),
                (131.0, 3),
                (200.0, 3),
            ],
        );
    }

    #[test]
    fn consciousness_scores() {
        assert_eq!(consciousness(Consciousness::Alert), 0);
        assert_eq!(consciousness(Consciousness::Cvpu), 3);
    }

    #[test]
    fn temperature_bands() {
        bands(
            temperature,
            &[
                (33.0, 3),
                (35.0, 3),
                (35.1, 1),
                (36.0, 1),
                (36.1, 0),
                (38.0, 0),
                (38.1, 1),
                (39.0, 1),
                (39.1, 2),
                (41.0, 2),
            ],
        );
    }

    fn normal() -> News2Inputs {
        News2Inputs {
            respiration_per_min: Some(16.0),
            spo2_pct: Some(97.0),
            on_oxygen: Some(false),
            systolic_mmhg: Some(120.0),
            pulse_per_min: Some(70.0),
            consciousness: Some(Consciousness::Alert),
            temperature_c: Some(37.0),
        }
    }

    #[test]
    fn a_normal_patient_scores_zero_with_every_component() {
        let s = score(&normal(), Spo2Scale::Scale1);
        assert_eq!(s.total, 0);
        assert!(s.complete());
        assert_eq!(s.components.len(), 7);
        assert_eq!(s.response, Response::Routine);
    }

    #[test]
    fn the_aggregate_sums_the_components() {
        let inputs = News2Inputs {
            respiration_per_min: Some(22.0), // 2
            spo2_pct: Some(95.0),            // 1 (scale 1)
            on_oxygen: Some(true),           // 2
            systolic_mmhg: Some(105.0),      // 1
            pulse_per_min: Some(95.0),       // 1
            temperature_c: Some(38.5),       // 1
            ..normal()
        };
        let s = score(&inputs, Spo2Scale::Scale1);
        assert_eq!(s.total, 8);
        assert_eq!(s.component(Parameter::RespirationRate), Some(2));
        assert_eq!(s.component(Parameter::Spo2), Some(1));
        assert_eq!(s.component(Parameter::AirOrOxygen), Some(2));
        assert_eq!(s.component(Parameter::SystolicBp), Some(1));
        assert_eq!(s.component(Parameter::Pulse), Some(1));
        assert_eq!(s.component(Parameter::Consciousness), Some(0));
        assert_eq!(s.component(Parameter::Temperature), Some(1));
        assert_eq!(s.response, Response::Emergency);
    }

    #[test]
    fn scale_2_changes_only_the_spo2_component() {
        let inputs = News2Inputs {
            spo2_pct: Some(89.0),
            ..normal()
        };
        assert_eq!(score(&inputs, Spo2Scale::Scale1).total, 3);
        assert_eq!(score(&inputs, Spo2Scale::Scale2).total, 0);
    }

    #[test]
    fn response_bands_at_their_edges() {
        assert_eq!(response(0, false), Response::Routine);
        assert_eq!(response(4, false), Response::Routine);
        assert_eq!(response(3, true), Response::Urgent);
        assert_eq!(response(5, false), Response::Urgent);
        assert_eq!(response(6, false), Response::Urgent);
        assert_eq!(response(6, true), Response::Urgent);
        assert_eq!(response(7, false), Response::Emergency);
        assert_eq!(response(20, true), Response::Emergency);
    }

    #[test]
    fn a_single_three_escalates_a_low_aggregate() {
        let inputs = News2Inputs {
            pulse_per_min: Some(135.0),
            ..normal()
        };
        let s = score(&inputs, Spo2Scale::Scale1);
        assert_eq!(s.total, 3);
        assert_eq!(s.response, Response::Urgent);
    }

    #[test]
    fn missing_parameters_are_reported_and_score_nothing() {
        let inputs = News2Inputs {
            respiration_per_min: Some(26.0),
            systolic_mmhg: Some(85.0),
            pulse_per_min: Some(125.0),
            ..News2Inputs::default()
        };
        let s = score(&inputs, Spo2Scale::Scale1);
        assert_eq!(s.total, 8);
        assert!(!s.complete());
        assert_eq!(
            s.missing,
            vec![
                Parameter::Spo2,
                Parameter::AirOrOxygen,
                Parameter::Consciousness,
                Parameter::Temperature
            ]
        );
        // A lower bound still escalates.
        assert_eq!(s.response, Response::Emergency);
        assert_eq!(s.component(Parameter::Spo2), None);
    }

    #[test]
    fn the_maximum_is_twenty() {
        let inputs = News2Inputs {
            respiration_per_min: Some(5.0),
            spo2_pct: Some(80.0),
            on_oxygen: Some(true),
            systolic_mmhg: Some(80.0),
            pulse_per_min: Some(150.0),
            consciousness: Some(Consciousness::Cvpu),
            temperature_c: Some(34.0),
        };
        assert_eq!(score(&inputs, Spo2Scale::Scale1).total, 20);
    }
}
