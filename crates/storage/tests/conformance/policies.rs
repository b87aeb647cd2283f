//! PolicyStore behaviours: versioned threshold policies.

use crate::fixtures::{patient_id, policy};
use cw_storage::{StoreError, Stores};

pub async fn put_policy_increments_version(s: &Stores) {
    let p = patient_id();
    let v1 = s.records.put_policy(&policy(&p, 120.0)).await.expect("put");
    assert_eq!(v1.version, 1);
    // Whatever version the caller sent, the store assigns the next one.
    let mut edited = policy(&p, 130.0);
    edited.version = 77;
    let v2 = s.records.put_policy(&edited).await.expect("put");
    assert_eq!(v2.version, 2);
    assert_eq!(v2.hr_high.as_ref().map(|l| l.bpm), Some(130.0));
    assert_eq!(s.records.policy(&p).await.expect("current"), v2);
}

pub async fn policy_of_unknown_patient_is_not_found(s: &Stores) {
    assert!(matches!(
        s.records.policy(&patient_id()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn all_policies_returns_the_current_version_of_each_patient(s: &Stores) {
    let (p1, p2) = (patient_id(), patient_id());
    s.records
        .put_policy(&policy(&p1, 120.0))
        .await
        .expect("put");
    let p1_current = s
        .records
        .put_policy(&policy(&p1, 140.0))
        .await
        .expect("put");
    let p2_current = s
        .records
        .put_policy(&policy(&p2, 110.0))
        .await
        .expect("put");
    let mut all = s.records.all_policies().await.expect("all");
    all.sort_by(|a, b| a.patient.cmp(&b.patient));
    let mut expected = vec![p1_current, p2_current];
    expected.sort_by(|a, b| a.patient.cmp(&b.patient));
    assert_eq!(all, expected);
}

pub async fn policy_history_lists_every_version_newest_first_within_the_limit(s: &Stores) {
    let (p, other) = (patient_id(), patient_id());
    assert_eq!(
        s.records.policy_history(&p, 10).await.expect("history"),
        Vec::new(),
        "a patient without a policy has no history"
    );
    let mut saved = Vec::new();
    for bpm in [120.0, 130.0, 125.0] {
        saved.push(s.records.put_policy(&policy(&p, bpm)).await.expect("put"));
    }
    s.records
        .put_policy(&policy(&other, 150.0))
        .await
        .expect("put");
    let history = s.records.policy_history(&p, 10).await.expect("history");
    saved.reverse();
    assert_eq!(
        history, saved,
        "every version of this patient, newest first"
    );
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    let newest = s.records.policy_history(&p, 2).await.expect("history");
    assert_eq!(newest, saved[..2], "the limit keeps the newest");
}

/// Every rhythm and technical rule, and alerts they raise, survive the store unchanged.
pub async fn rhythm_and_technical_rules_and_their_alerts_round_trip(s: &Stores) {
    use cw_core::rules::{AfRule, AsystoleRule, ConditionRule, NoDataRule, PauseRule, RunRule};
    use cw_core::{Priority, RuleKind};
    let p = patient_id();
    let condition = Some(ConditionRule {
        priority: Priority::Low,
        for_s: 2.5,
        clear_s: 10.0,
    });
    let run = |bpm| {
        Some(RunRule {
            bpm,
            beats: 4,
            priority: Priority::Medium,
            clear_s: 5.0,
        })
    };
    let full = cw_core::ThresholdPolicy {
        pause: Some(PauseRule {
            rr_s: 2.5,
            priority: Priority::Medium,
            clear_s: 10.0,
        }),
        asystole: Some(AsystoleRule {
            after_s: 4.0,
            priority: Priority::High,
            clear_s: 5.0,
        }),
        brady_run: run(40.0),
        tachy_run: run(130.0),
        af: Some(AfRule {
            window_beats: 32,
            irregularity: 0.06,
            priority: Priority::Medium,
            for_s: 30.0,
            clear_s: 30.0,
        }),
        vf: condition.clone(),
        lead_off: condition.clone(),
        flat_line: condition.clone(),
        saturation: condition.clone(),
        noise: condition,
        no_data: Some(NoDataRule {
            after_s: 30.0,
            priority: Priority::Low,
            clear_s: 0.0,
        }),
        ..policy(&p, 120.0)
    };
    let saved = s.records.put_policy(&full).await.expect("put");
    assert_eq!(s.records.policy(&p).await.expect("current"), saved);
    for rule in [RuleKind::Asystole, RuleKind::Noise] {
        let mut a = crate::fixtures::alert(&p, rule, crate::fixtures::T0);
        a.limit = full.limit_of(rule);
        s.records.open_alert(&a).await.expect("open");
        assert_eq!(s.records.get_alert(&a.id).await.expect("read back"), a);
    }
}
