//! AuditStore behaviours: the chain each backend builds verifies, under concurrency too.

use crate::backends::audit_key;
use cw_core::PatientId;
use cw_core::audit::{AuditEntry, AuditOutcome, GENESIS_HASH};
use cw_core::time::now_ns;
use cw_storage::Stores;
use cw_storage::audit::verify_chain;

pub fn entry(actor: &str, action: &str, patient: &PatientId, outcome: AuditOutcome) -> AuditEntry {
    AuditEntry {
        at_ns: now_ns(),
        actor: actor.into(),
        role: "doctor".into(),
        action: action.into(),
        resource: format!("/v1/patients/{patient}/thresholds"),
        patient: Some(patient.clone()),
        outcome,
        status: 200,
        source: "127.0.0.1:40000".into(),
        request_id: "req".into(),
        reason: String::new(),
    }
}

pub async fn appended_events_form_a_chain_that_verifies(s: &Stores) {
    let patient = PatientId::random();
    let mut appended = Vec::new();
    for i in 0..5 {
        let e = entry(&format!("dr-{i}"), "read", &patient, AuditOutcome::Allowed);
        appended.push(s.records.append_audit(&e).await.expect("append"));
    }
    assert_eq!(appended[0].seq, 1);
    assert_eq!(appended[0].prev_hash, GENESIS_HASH);
    assert_eq!(appended[4].prev_hash, appended[3].hash);
    let read = s.records.audit_events(0, 100).await.expect("read");
    assert_eq!(read, appended);
    assert_eq!(
        s.records.audit_events(4, 1).await.expect("page"),
        appended[3..4]
    );
    let report = verify_chain(s.records.as_ref(), &audit_key())
        .await
        .expect("verify");
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    assert_eq!(report.events, 5);
    assert_eq!(report.head, Some((5, appended[4].hash.clone())));
}

pub async fn concurrent_appends_take_distinct_seqs_and_keep_the_chain_intact(s: &Stores) {
    let patient = PatientId::random();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let records = s.records.clone();
            let e = entry(&format!("dr-{i}"), "read", &patient, AuditOutcome::Allowed);
            tokio::spawn(async move { records.append_audit(&e).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("append");
    }
    let report = verify_chain(s.records.as_ref(), &audit_key())
        .await
        .expect("verify");
    assert_eq!(report.events, 16);
    assert!(report.faults.is_empty(), "{:?}", report.faults);
}

pub async fn latest_audit_finds_the_newest_allowed_grant_in_time(s: &Stores) {
    let (patient, other) = (PatientId::random(), PatientId::random());
    let before = now_ns();
    s.records
        .append_audit(&entry(
            "dr-1",
            "break_glass",
            &patient,
            AuditOutcome::Denied,
        ))
        .await
        .expect("append");
    assert_eq!(
        s.records
            .latest_audit("dr-1", "break_glass", &patient, before)
            .await
            .expect("query"),
        None,
        "a denied attempt is no grant"
    );
    let grant = s
        .records
        .append_audit(&entry(
            "dr-1",
            "break_glass",
            &patient,
            AuditOutcome::Allowed,
        ))
        .await
        .expect("append");
    let found = s
        .records
        .latest_audit("dr-1", "break_glass", &patient, before)
        .await;
    assert_eq!(found.expect("query"), Some(grant.clone()));
    for (actor, p, since) in [
        ("dr-2", &patient, before),
        ("dr-1", &other, before),
        ("dr-1", &patient, grant.entry.at_ns + 1),
    ] {
        assert_eq!(
            s.records
                .latest_audit(actor, "break_glass", p, since)
                .await
                .expect("query"),
            None
        );
    }
}

pub async fn archived_events_leave_the_live_log_and_verify_with_it_as_one_chain(s: &Stores) {
    use cw_storage::audit::verify_chain_with;
    use cw_storage::audit_archive::{archive, read};
    let dir = tempfile::tempdir().expect("temp dir");
    let patient = PatientId::random();
    let mut appended = Vec::new();
    for i in 0..5 {
        let mut e = entry(&format!("dr-{i}"), "read", &patient, AuditOutcome::Allowed);
        if i < 3 {
            e.at_ns = 1_000 + i; // long ago
        }
        appended.push(s.records.append_audit(&e).await.expect("append"));
    }
    let day_ago = now_ns() - 86_400 * cw_core::time::NANOS_PER_SEC;

    let first = dir.path().join("audit-1.jsonl");
    let report = archive(s.records.as_ref(), day_ago, &first)
        .await
        .expect("archive");
    assert_eq!((report.events, report.seqs), (3, Some((1, 3))));
    assert_eq!(read(&first).expect("read archive"), appended[..3]);
    assert_eq!(
        s.records.audit_events(0, 100).await.expect("live"),
        appended[3..]
    );
    // The live log alone misses its start; with the archive it is one intact chain.
    let live_only = verify_chain(s.records.as_ref(), &audit_key())
        .await
        .expect("verify");
    assert!(!live_only.faults.is_empty(), "a cut-off start must show");
    let whole = verify_chain_with(
        s.records.as_ref(),
        &audit_key(),
        read(&first).expect("read"),
    )
    .await
    .expect("verify");
    assert!(whole.faults.is_empty(), "{:?}", whole.faults);
    assert_eq!(
        (whole.events, whole.head),
        (5, Some((5, appended[4].hash.clone())))
    );

    // An archive is never overwritten, and a wrong hash drops nothing.
    assert!(archive(s.records.as_ref(), now_ns(), &first).await.is_err());
    assert!(
        s.records
            .drop_archived_audit(4, &appended[3].prev_hash)
            .await
            .is_err()
    );
    assert_eq!(s.records.audit_events(0, 100).await.expect("live").len(), 2);

    // Everything old enough except the head: the chain goes on from it.
    let second = dir.path().join("audit-2.jsonl");
    let report = archive(s.records.as_ref(), now_ns() + 1, &second)
        .await
        .expect("archive again");
    assert_eq!(report.seqs, Some((4, 4)));
    let next = s
        .records
        .append_audit(&entry("dr-9", "read", &patient, AuditOutcome::Allowed))
        .await
        .expect("append after archiving");
    assert_eq!(
        (next.seq, next.prev_hash.as_str()),
        (6, appended[4].hash.as_str())
    );
    let mut archived = read(&first).expect("read");
    archived.extend(read(&second).expect("read"));
    let whole = verify_chain_with(s.records.as_ref(), &audit_key(), archived.clone())
        .await
        .expect("verify");
    assert!(whole.faults.is_empty(), "{:?}", whole.faults);
    assert_eq!(whole.events, 6);

    // An edited or missing archive breaks the chain.
    let mut edited = archived.clone();
    edited[1].entry.actor = "someone-else".into();
    let report = verify_chain_with(s.records.as_ref(), &audit_key(), edited)
        .await
        .expect("verify");
    assert!(!report.faults.is_empty());
    let report = verify_chain_with(s.records.as_ref(), &audit_key(), archived[3..].to_vec())
        .await
        .expect("verify");
    assert!(!report.faults.is_empty());
}
