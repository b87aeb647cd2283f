//! Watchdog probe behaviours: a notifier's round is pending until one engine answers it,
//! a new round replaces the old one, a late answer of an older round changes nothing,
//! and a round past its `until_ns` is no longer pending (docs/architecture.md, "The
//! watchdog's probe").

use crate::fixtures::T0;
use cw_core::{AlertId, PatientId};
use cw_storage::Stores;

const WAIT: i64 = 30_000_000_000;

fn synthetic(name: &str) -> PatientId {
    PatientId::parse(&format!("{}{name}", cw_core::ids::SYNTHETIC_PATIENT_PREFIX)).expect("id")
}

pub async fn a_probe_is_pending_until_answered_once_and_reads_back_its_alert(s: &Stores) {
    let (a, b) = (synthetic("probe-a"), synthetic("probe-b"));
    assert_eq!(s.records.probe(&a).await.expect("read"), None);
    s.records
        .request_probe(&a, T0, T0 + WAIT)
        .await
        .expect("request");
    s.records
        .request_probe(&b, T0 + 1, T0 + WAIT)
        .await
        .expect("request");
    let pending = s.records.pending_probes(T0 + 2).await.expect("pending");
    let names: Vec<&PatientId> = pending.iter().map(|p| &p.patient).collect();
    assert_eq!(names, [&a, &b], "{pending:?}");
    assert!(pending.iter().all(|p| p.alert.is_none()), "{pending:?}");

    let alert = AlertId::random();
    assert!(
        s.records
            .answer_probe(&a, T0, &alert)
            .await
            .expect("answer")
    );
    let other = AlertId::random();
    assert!(
        !s.records
            .answer_probe(&a, T0, &other)
            .await
            .expect("answer"),
        "a round is answered once"
    );
    let read = s.records.probe(&a).await.expect("read").expect("stored");
    assert_eq!(read.alert, Some(alert), "the first answer stays: {read:?}");
    assert_eq!((read.requested_ns, read.until_ns), (T0, T0 + WAIT));
    let pending = s.records.pending_probes(T0 + 3).await.expect("pending");
    assert_eq!(
        pending.iter().map(|p| &p.patient).collect::<Vec<_>>(),
        [&b],
        "an answered round is not pending: {pending:?}"
    );
}

pub async fn a_new_round_replaces_the_old_and_a_late_answer_of_the_old_changes_nothing(s: &Stores) {
    let p = synthetic("probe-rounds");
    s.records
        .request_probe(&p, T0, T0 + WAIT)
        .await
        .expect("request");
    assert!(
        s.records
            .answer_probe(&p, T0, &AlertId::random())
            .await
            .expect("answer")
    );
    s.records
        .request_probe(&p, T0 + 10, T0 + 10 + WAIT)
        .await
        .expect("next round");
    let read = s.records.probe(&p).await.expect("read").expect("stored");
    assert_eq!((read.requested_ns, read.alert.clone()), (T0 + 10, None));
    assert!(
        !s.records
            .answer_probe(&p, T0, &AlertId::random())
            .await
            .expect("late answer"),
        "an older round's answer does not answer the new one"
    );
    assert_eq!(s.records.probe(&p).await.expect("read"), Some(read.clone()));
    let pending = s.records.pending_probes(T0 + 11).await.expect("pending");
    assert_eq!(pending, vec![read], "the new round waits for an engine");
}

pub async fn a_probe_past_its_wait_is_no_longer_pending(s: &Stores) {
    let p = synthetic("probe-late");
    s.records
        .request_probe(&p, T0, T0 + WAIT)
        .await
        .expect("request");
    let before = s
        .records
        .pending_probes(T0 + WAIT - 1)
        .await
        .expect("pending");
    assert_eq!(before.len(), 1, "{before:?}");
    let after = s.records.pending_probes(T0 + WAIT).await.expect("pending");
    assert!(after.is_empty(), "nobody waits for it any more: {after:?}");
}
