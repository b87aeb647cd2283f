//! Alert snoozes: set only on a firing alert, replaced by a later one, kept through
//! acknowledge and resolve, and never landing on an alert that is no longer firing.

use crate::fixtures::{T0, alert, patient_id};
use cw_core::RuleKind;
use cw_core::snooze::AlertSnooze;
use cw_core::time::NANOS_PER_SEC;
use cw_storage::Stores;

const S: i64 = NANOS_PER_SEC;

pub async fn a_snooze_is_stored_on_a_firing_alert_and_replaced_by_the_next(s: &Stores) {
    let a = alert(&patient_id(), RuleKind::HrHigh, T0);
    s.records.open_alert(&a).await.expect("open");
    let first = AlertSnooze::replacing(None, T0 + S, T0 + 600 * S, "dr-a", "seen");
    let stored = s.records.snooze_alert(&a.id, &first).await.expect("snooze");
    assert_eq!(stored.snooze.as_deref(), Some(&first));
    assert_eq!(
        s.records
            .get_alert(&a.id)
            .await
            .expect("get")
            .snooze
            .as_deref(),
        Some(&first)
    );
    let second = AlertSnooze::replacing(Some(&first), T0 + 60 * S, T0 + 900 * S, "dr-b", "again");
    let stored = s
        .records
        .snooze_alert(&a.id, &second)
        .await
        .expect("snooze");
    assert_eq!(stored.snooze.as_deref(), Some(&second));
    assert_eq!(second.earlier_ns, 59 * S);
    // Acknowledge and resolve keep it (it is history now, shown with the alert).
    s.records
        .acknowledge_alert(&a.id, "dr-a", T0 + 70 * S)
        .await
        .expect("ack");
    let resolved = s
        .records
        .resolve_alert(&a.id, T0 + 80 * S)
        .await
        .expect("resolve");
    assert_eq!(resolved.snooze.as_deref(), Some(&second));
}

pub async fn an_acknowledged_alert_is_not_snoozed(s: &Stores) {
    let a = alert(&patient_id(), RuleKind::HrLow, T0);
    s.records.open_alert(&a).await.expect("open");
    let acked = s
        .records
        .acknowledge_alert(&a.id, "dr-a", T0 + S)
        .await
        .expect("ack");
    let snooze = AlertSnooze::replacing(None, T0 + 2 * S, T0 + 600 * S, "dr-a", "seen");
    let stored = s.records.snooze_alert(&a.id, &snooze).await.expect("call");
    assert_eq!(stored, acked, "unchanged");
    assert!(
        s.records
            .get_alert(&a.id)
            .await
            .expect("get")
            .snooze
            .is_none()
    );
}
