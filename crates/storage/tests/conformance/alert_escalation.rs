//! "Escalate now" requests: stored on a firing alert, replaced by a later one, kept
//! through acknowledge and resolve, and never landing on an alert no longer firing.

use crate::fixtures::{T0, alert, patient_id};
use cw_core::RuleKind;
use cw_core::escalation::EscalationRequest;
use cw_core::time::NANOS_PER_SEC;
use cw_storage::Stores;

const S: i64 = NANOS_PER_SEC;

fn request(level: u32, at_ns: i64) -> EscalationRequest {
    EscalationRequest {
        level,
        at_ns,
        by: "dr-a".into(),
    }
}

pub async fn an_escalation_is_stored_on_a_firing_alert_only(s: &Stores) {
    let a = alert(&patient_id(), RuleKind::HrHigh, T0);
    s.records.open_alert(&a).await.expect("open");
    let first = request(2, T0 + S);
    let stored = s
        .records
        .escalate_alert(&a.id, &first)
        .await
        .expect("escalate");
    assert_eq!(stored.escalation.as_deref(), Some(&first));
    let second = request(3, T0 + 2 * S);
    let stored = s
        .records
        .escalate_alert(&a.id, &second)
        .await
        .expect("escalate");
    assert_eq!(stored.escalation.as_deref(), Some(&second), "replaced");
    let acked = s
        .records
        .acknowledge_alert(&a.id, "dr-b", T0 + 3 * S)
        .await
        .expect("ack");
    assert_eq!(
        acked.escalation.as_deref(),
        Some(&second),
        "kept as history"
    );
    let late = s
        .records
        .escalate_alert(&a.id, &request(4, T0 + 4 * S))
        .await
        .expect("call");
    assert_eq!(late, acked, "an acknowledged alert is not escalated");
    let resolved = s
        .records
        .resolve_alert(&a.id, T0 + 5 * S)
        .await
        .expect("resolve");
    assert_eq!(resolved.escalation.as_deref(), Some(&second));
}
