//! `open_alert_batch`: a batch opens like the same alerts opened one by one, in order,
//! with the one-open-alert-per-(patient, rule) rule holding inside the batch too.

use crate::fixtures::{T0, alert, patient_id};
use cw_core::time::NANOS_PER_SEC;
use cw_core::{AlertState, RuleKind};
use cw_storage::{OpenAlertOutcome, Stores};

const S: i64 = NANOS_PER_SEC;

pub async fn a_batch_opens_each_alert_and_a_key_already_open_returns_its_holder(s: &Stores) {
    let (p1, p2) = (patient_id(), patient_id());
    let held = alert(&p1, RuleKind::HrHigh, T0);
    s.records.open_alert(&held).await.expect("open");
    let batch = [
        alert(&p1, RuleKind::HrLow, T0 + S),
        alert(&p1, RuleKind::HrHigh, T0 + S),
        alert(&p2, RuleKind::HrHigh, T0 + S),
    ];
    let outcomes: Vec<_> = s
        .records
        .open_alert_batch(&batch)
        .await
        .into_iter()
        .map(|outcome| outcome.expect("batch stored"))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            OpenAlertOutcome::Created,
            OpenAlertOutcome::AlreadyOpen(held.clone()),
            OpenAlertOutcome::Created,
        ]
    );
    let mut open: Vec<_> = s
        .records
        .open_alerts()
        .await
        .expect("open alerts")
        .into_iter()
        .filter(|a| a.patient == p1 || a.patient == p2)
        .map(|a| a.id)
        .collect();
    open.sort();
    let mut expected = vec![held.id, batch[0].id.clone(), batch[2].id.clone()];
    expected.sort();
    assert_eq!(open, expected, "the duplicate of an open key is not stored");
}

pub async fn two_alerts_for_one_key_in_a_batch_open_only_the_first(s: &Stores) {
    let p = patient_id();
    let first = alert(&p, RuleKind::HrHigh, T0);
    let second = alert(&p, RuleKind::HrHigh, T0 + S);
    let outcomes: Vec<_> = s
        .records
        .open_alert_batch(&[first.clone(), second.clone()])
        .await
        .into_iter()
        .map(|outcome| outcome.expect("batch stored"))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            OpenAlertOutcome::Created,
            OpenAlertOutcome::AlreadyOpen(first.clone()),
        ]
    );
    let stored = s
        .records
        .alerts_for_patients(std::slice::from_ref(&p), None, 10)
        .await
        .expect("alerts");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].id, first.id);
    assert_eq!(stored[0].state, AlertState::Firing);
}

pub async fn an_empty_batch_opens_nothing(s: &Stores) {
    assert!(s.records.open_alert_batch(&[]).await.is_empty());
}
