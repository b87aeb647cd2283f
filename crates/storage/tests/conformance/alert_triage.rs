//! Triage verdicts: stored on an alert in any state, replaced by a later one, kept
//! through acknowledge and resolve, and `NotFound` for an alert that does not exist.

use crate::fixtures::{T0, alert, patient_id};
use cw_core::time::NANOS_PER_SEC;
use cw_core::triage::{Triage, Verdict};
use cw_core::{AlertId, RuleKind};
use cw_storage::{StoreError, Stores};

const S: i64 = NANOS_PER_SEC;

fn verdict(verdict: Verdict, note: Option<&str>, by: &str, at_ns: i64) -> Triage {
    Triage {
        verdict,
        note: note.map(str::to_owned),
        by: by.into(),
        at_ns,
    }
}

pub async fn a_verdict_is_stored_replaced_and_kept_through_ack_and_resolve(s: &Stores) {
    let a = alert(&patient_id(), RuleKind::HrHigh, T0);
    s.records.open_alert(&a).await.expect("open");
    let first = verdict(
        Verdict::Artifact,
        Some("motion, patient walking"),
        "dr-a",
        T0 + S,
    );
    let stored = s.records.triage_alert(&a.id, &first).await.expect("triage");
    assert_eq!(stored.triage.as_deref(), Some(&first));
    assert_eq!(stored.state, cw_core::AlertState::Firing, "state untouched");
    s.records
        .acknowledge_alert(&a.id, "dr-a", T0 + 2 * S)
        .await
        .expect("ack");
    let second = verdict(Verdict::Confirmed, None, "dr-b", T0 + 3 * S);
    let stored = s
        .records
        .triage_alert(&a.id, &second)
        .await
        .expect("triage");
    assert_eq!(
        stored.triage.as_deref(),
        Some(&second),
        "a later verdict replaces"
    );
    assert_eq!(stored.acked_by.as_deref(), Some("dr-a"), "the ack stays");
    let resolved = s
        .records
        .resolve_alert(&a.id, T0 + 4 * S)
        .await
        .expect("resolve");
    assert_eq!(resolved.triage.as_deref(), Some(&second));
    assert_eq!(
        s.records
            .get_alert(&a.id)
            .await
            .expect("get")
            .triage
            .as_deref(),
        Some(&second)
    );
}

pub async fn a_resolved_alert_takes_a_verdict_and_an_unknown_one_is_not_found(s: &Stores) {
    let a = alert(&patient_id(), RuleKind::Pause, T0);
    s.records.open_alert(&a).await.expect("open");
    s.records
        .resolve_alert(&a.id, T0 + S)
        .await
        .expect("resolve");
    let late = verdict(
        Verdict::False,
        Some("limit too tight"),
        "dr-a",
        T0 + 600 * S,
    );
    let stored = s.records.triage_alert(&a.id, &late).await.expect("triage");
    assert_eq!(stored.triage.as_deref(), Some(&late));
    assert_eq!(stored.state, cw_core::AlertState::Resolved);
    let missing = s
        .records
        .triage_alert(&AlertId::random(), &late)
        .await
        .expect_err("no such alert");
    assert!(matches!(missing, StoreError::NotFound), "{missing:?}");
}
