//! AlertStore behaviours: one open alert per (patient, rule), and the lifecycle.

use crate::fixtures::{T0, alert, patient_id};
use cw_core::time::NANOS_PER_SEC;
use cw_core::{AlertId, AlertState, RuleKind};
use cw_storage::{OpenAlertOutcome, StoreError, Stores};

const S: i64 = NANOS_PER_SEC;

pub async fn second_open_alert_for_same_patient_and_rule_returns_the_first(s: &Stores) {
    let p = patient_id();
    let first = alert(&p, RuleKind::HrHigh, T0);
    let second = alert(&p, RuleKind::HrHigh, T0 + S);
    assert_eq!(
        s.records.open_alert(&first).await.expect("open"),
        OpenAlertOutcome::Created
    );
    assert_eq!(
        s.records.open_alert(&second).await.expect("open"),
        OpenAlertOutcome::AlreadyOpen(first.clone())
    );
    assert!(matches!(
        s.records.get_alert(&second.id).await,
        Err(StoreError::NotFound)
    ));
    // Still the case once the first is acknowledged: acknowledged is open.
    let acked = s
        .records
        .acknowledge_alert(&first.id, "dr-a", T0 + 2 * S)
        .await
        .expect("ack");
    assert_eq!(
        s.records.open_alert(&second).await.expect("open"),
        OpenAlertOutcome::AlreadyOpen(acked)
    );
}

pub async fn other_rules_and_patients_open_independently(s: &Stores) {
    let (p1, p2) = (patient_id(), patient_id());
    for a in [
        alert(&p1, RuleKind::HrHigh, T0),
        alert(&p1, RuleKind::HrLow, T0),
        alert(&p2, RuleKind::HrHigh, T0),
    ] {
        assert_eq!(
            s.records.open_alert(&a).await.expect("open"),
            OpenAlertOutcome::Created
        );
    }
}

pub async fn after_resolve_a_new_alert_can_open(s: &Stores) {
    let p = patient_id();
    let first = alert(&p, RuleKind::HrLow, T0);
    s.records.open_alert(&first).await.expect("open");
    let resolved = s
        .records
        .resolve_alert(&first.id, T0 + 30 * S)
        .await
        .expect("resolve");
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.resolved_ns, Some(T0 + 30 * S));

    let next = alert(&p, RuleKind::HrLow, T0 + 60 * S);
    assert_eq!(
        s.records.open_alert(&next).await.expect("open"),
        OpenAlertOutcome::Created
    );
    assert_eq!(s.records.get_alert(&next.id).await.expect("get"), next);
    assert_eq!(s.records.get_alert(&first.id).await.expect("get"), resolved);
}

pub async fn retried_open_of_the_same_alert_is_not_a_duplicate(s: &Stores) {
    // An engine that timed out waiting for the store retries with the same alert.
    let p = patient_id();
    let a = alert(&p, RuleKind::HrHigh, T0);
    assert_eq!(
        s.records.open_alert(&a).await.expect("open"),
        OpenAlertOutcome::Created
    );
    assert_eq!(
        s.records.open_alert(&a).await.expect("retry"),
        OpenAlertOutcome::Created
    );
    assert_eq!(
        s.records
            .alerts_for_patients(&[p], None, 10)
            .await
            .expect("list"),
        vec![a]
    );
}

pub async fn racing_opens_for_one_key_create_exactly_one_alert(s: &Stores) {
    let p = patient_id();
    let candidates: Vec<_> = (0..6)
        .map(|i| alert(&p, RuleKind::HrHigh, T0 + i * S))
        .collect();
    let handles: Vec<_> = candidates
        .iter()
        .cloned()
        .map(|a| {
            let records = s.records.clone();
            tokio::spawn(async move { records.open_alert(&a).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.expect("task").expect("open"));
    }
    let created = outcomes
        .iter()
        .filter(|o| **o == OpenAlertOutcome::Created)
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    let stored = s
        .records
        .alerts_for_patients(std::slice::from_ref(&p), None, 10)
        .await
        .expect("list");
    assert_eq!(stored.len(), 1);
    for outcome in outcomes {
        if let OpenAlertOutcome::AlreadyOpen(existing) = outcome {
            assert_eq!(existing, stored[0]);
        }
    }
}

pub async fn acknowledge_keeps_the_first_ack(s: &Stores) {
    let a = alert(&patient_id(), RuleKind::HrHigh, T0);
    s.records.open_alert(&a).await.expect("open");
    let first = s
        .records
        .acknowledge_alert(&a.id, "dr-a", T0 + S)
        .await
        .expect("ack");
    assert_eq!(first.state, AlertState::Acknowledged);
    assert_eq!(first.acked_by.as_deref(), Some("dr-a"));
    assert_eq!(first.acked_ns, Some(T0 + S));
    let second = s
        .records
        .acknowledge_alert(&a.id, "dr-b", T0 + 2 * S)
        .await
        .expect("ack again");
    assert_eq!(second, first);
    assert_eq!(s.records.get_alert(&a.id).await.expect("get"), first);
}

pub async fn acknowledging_a_resolved_alert_keeps_it_resolved(s: &Stores) {
    let a = alert(&patient_id(), RuleKind::HrHigh, T0);
    s.records.open_alert(&a).await.expect("open");
    let resolved = s
        .records
        .resolve_alert(&a.id, T0 + S)
        .await
        .expect("resolve");
    let after = s
        .records
        .acknowledge_alert(&a.id, "dr-a", T0 + 2 * S)
        .await
        .expect("ack");
    assert_eq!(after, resolved);
    assert_eq!(after.acked_by, None);
}

pub async fn resolving_twice_keeps_the_first_resolution(s: &Stores) {
    let a = alert(&patient_id(), RuleKind::HrLow, T0);
    s.records.open_alert(&a).await.expect("open");
    s.records
        .acknowledge_alert(&a.id, "dr-a", T0 + S)
        .await
        .expect("ack");
    let first = s
        .records
        .resolve_alert(&a.id, T0 + 2 * S)
        .await
        .expect("resolve");
    assert_eq!(
        first.acked_by.as_deref(),
        Some("dr-a"),
        "resolving keeps the ack"
    );
    let second = s
        .records
        .resolve_alert(&a.id, T0 + 3 * S)
        .await
        .expect("resolve again");
    assert_eq!(second, first);
}

pub async fn open_alerts_lists_firing_and_acknowledged_not_resolved(s: &Stores) {
    let p = patient_id();
    let firing = alert(&p, RuleKind::HrHigh, T0);
    let acked = alert(&patient_id(), RuleKind::HrHigh, T0 + S);
    let resolved = alert(&p, RuleKind::HrLow, T0 + 2 * S);
    for a in [&firing, &acked, &resolved] {
        s.records.open_alert(a).await.expect("open");
    }
    let acked = s
        .records
        .acknowledge_alert(&acked.id, "dr", T0 + 3 * S)
        .await
        .expect("ack");
    s.records
        .resolve_alert(&resolved.id, T0 + 4 * S)
        .await
        .expect("resolve");

    let mut open = s.records.open_alerts().await.expect("open alerts");
    open.sort_by_key(|a| a.fired_ns);
    assert_eq!(open, vec![firing, acked]);
}

pub async fn alerts_for_patients_filters_by_patient_and_state_newest_first_with_limit(s: &Stores) {
    let (p1, p2, other) = (patient_id(), patient_id(), patient_id());
    // p1: three episodes of one rule over time (each resolved before the next).
    let mut p1_alerts = Vec::new();
    for i in 0..3 {
        let a = alert(&p1, RuleKind::HrHigh, T0 + i * 100 * S);
        s.records.open_alert(&a).await.expect("open");
        if i < 2 {
            p1_alerts.push(
                s.records
                    .resolve_alert(&a.id, T0 + (i * 100 + 50) * S)
                    .await
                    .expect("resolve"),
            );
        } else {
            p1_alerts.push(a);
        }
    }
    let p2_alert = alert(&p2, RuleKind::HrLow, T0 + 150 * S);
    s.records.open_alert(&p2_alert).await.expect("open");
    s.records
        .open_alert(&alert(&other, RuleKind::HrLow, T0 + 500 * S))
        .await
        .expect("open");

    let both = [p1.clone(), p2.clone()];
    let all = s
        .records
        .alerts_for_patients(&both, None, 10)
        .await
        .expect("list");
    let expected = vec![
        p1_alerts[2].clone(),
        p2_alert.clone(),
        p1_alerts[1].clone(),
        p1_alerts[0].clone(),
    ];
    assert_eq!(all, expected, "newest first, other patients left out");

    let limited = s
        .records
        .alerts_for_patients(&both, None, 2)
        .await
        .expect("list");
    assert_eq!(limited, expected[..2].to_vec());

    let resolved = s
        .records
        .alerts_for_patients(&both, Some(AlertState::Resolved), 10)
        .await
        .expect("list");
    assert_eq!(resolved, vec![p1_alerts[1].clone(), p1_alerts[0].clone()]);

    let firing = s
        .records
        .alerts_for_patients(&both, Some(AlertState::Firing), 10)
        .await
        .expect("list");
    assert_eq!(firing, vec![p1_alerts[2].clone(), p2_alert]);

    assert!(
        s.records
            .alerts_for_patients(&[], None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        s.records
            .alerts_for_patients(&both, None, 0)
            .await
            .expect("list")
            .is_empty()
    );
}

pub async fn unknown_alert_is_not_found(s: &Stores) {
    let id = AlertId::random();
    assert!(matches!(
        s.records.get_alert(&id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.records.acknowledge_alert(&id, "dr", T0).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.records.resolve_alert(&id, T0).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn alerts_resolved_since_lists_the_ends_from_then_on_in_order(s: &Stores) {
    let p = patient_id();
    let before = alert(&p, RuleKind::HrHigh, T0);
    let later = alert(&p, RuleKind::HrLow, T0);
    let first = alert(&p, RuleKind::Pause, T0);
    let open = alert(&p, RuleKind::Asystole, T0);
    for a in [&before, &later, &first, &open] {
        s.records.open_alert(a).await.expect("open");
    }
    // Ended in this order: `before`, then `first`, then `later`; `open` never.
    for (a, at) in [(&before, 10), (&first, 20), (&later, 30)] {
        s.records
            .resolve_alert(&a.id, T0 + at * S)
            .await
            .expect("resolve");
    }
    let mine = |alerts: Vec<cw_core::Alert>| -> Vec<AlertId> {
        alerts
            .into_iter()
            .filter(|a| a.patient == p)
            .map(|a| a.id)
            .collect()
    };
    let since = s
        .records
        .alerts_resolved_since(T0 + 20 * S, 10_000)
        .await
        .expect("resolved since");
    assert!(since.iter().all(|a| a.state == AlertState::Resolved));
    assert_eq!(mine(since), [first.id.clone(), later.id.clone()]);
    let none = s
        .records
        .alerts_resolved_since(T0 + 31 * S, 10_000)
        .await
        .expect("resolved since");
    assert!(mine(none).is_empty());
    assert!(
        s.records
            .alerts_resolved_since(T0, 0)
            .await
            .expect("no limit, no alerts")
            .is_empty()
    );
}
