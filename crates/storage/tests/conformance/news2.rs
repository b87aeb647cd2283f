//! News2Store behaviours (the NEWS2 trend beside the numerics).

use crate::fixtures::{T0, patient_id};
use cw_core::PatientId;
use cw_core::news2::{Component, News2, News2Assessment, Parameter, Response};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_storage::Stores;

pub fn score(at_ns: Nanos, respiration: u8, spo2: u8) -> News2Assessment {
    let total = respiration + spo2;
    News2Assessment {
        at_ns,
        score: News2 {
            total,
            components: vec![
                Component {
                    parameter: Parameter::RespirationRate,
                    score: respiration,
                },
                Component {
                    parameter: Parameter::Spo2,
                    score: spo2,
                },
            ],
            missing: vec![Parameter::SystolicBp, Parameter::Temperature],
            response: if respiration == 3 || spo2 == 3 {
                Response::Urgent
            } else {
                Response::Routine
            },
        },
        assumed: vec![Parameter::AirOrOxygen, Parameter::Consciousness],
    }
}

pub async fn scores_round_trip_with_their_components_in_time_order(s: &Stores) {
    let p = patient_id();
    let scores = vec![
        score(T0 + 2 * NANOS_PER_SEC, 3, 1),
        score(T0, 0, 0),
        score(T0 + NANOS_PER_SEC, 1, 0),
    ];
    s.samples.write_news2(&p, &scores).await.expect("write");
    let mut want = scores;
    want.sort_by_key(|s| s.at_ns);
    let got = s
        .samples
        .news2(&p, T0, T0 + 3 * NANOS_PER_SEC)
        .await
        .expect("read");
    assert_eq!(got, want);
    assert_eq!(got[2].score.response, Response::Urgent);
}

pub async fn a_rewritten_score_overwrites_and_ranges_are_half_open_per_patient(s: &Stores) {
    let p = patient_id();
    let other = PatientId::parse(&format!("{}-other", p.as_str())).expect("id");
    s.samples
        .write_news2(&p, &[score(T0, 1, 0)])
        .await
        .expect("write");
    s.samples
        .write_news2(&p, &[score(T0, 3, 2)])
        .await
        .expect("rewrite");
    s.samples
        .write_news2(&other, &[score(T0, 0, 0)])
        .await
        .expect("other");
    s.samples
        .write_news2(&p, &[score(T0 + NANOS_PER_SEC, 0, 0)])
        .await
        .expect("later");
    assert_eq!(
        s.samples
            .news2(&p, T0, T0 + NANOS_PER_SEC)
            .await
            .expect("read"),
        vec![score(T0, 3, 2)],
        "one score per instant, the later write; the end is excluded; not the other patient's"
    );
    assert!(
        s.samples
            .news2(&p, T0 + 1, T0 + 1)
            .await
            .expect("empty")
            .is_empty()
    );
}
