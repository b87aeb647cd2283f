//! Alert episodes: every event while an alert is open is recorded on it (count, first,
//! last, worst), kept through acknowledge and resolve, never changed once resolved; an
//! alert stored before episodes existed still loads.

use crate::fixtures::{T0, alert, patient_id};
use cw_core::time::NANOS_PER_SEC;
use cw_core::{Episode, RuleKind};
use cw_storage::Stores;

const S: i64 = NANOS_PER_SEC;

pub async fn an_open_alert_records_its_episode_and_a_resolved_one_keeps_it(s: &Stores) {
    let a = alert(&patient_id(), RuleKind::Pause, T0);
    s.records.open_alert(&a).await.expect("open");
    assert_eq!(a.episode.count, 1, "a new alert is its first event");
    let seventeen = Episode {
        count: 17,
        first_ns: T0,
        last_ns: T0 + 1200 * S,
        worst: 5.7,
    };
    let stored = s
        .records
        .record_episode(&a.id, &seventeen)
        .await
        .expect("record");
    assert_eq!(stored.episode, seventeen);
    s.records
        .acknowledge_alert(&a.id, "dr-a", T0 + 1300 * S)
        .await
        .expect("ack");
    let eighteen = Episode {
        count: 18,
        last_ns: T0 + 1400 * S,
        ..seventeen
    };
    let acked = s
        .records
        .record_episode(&a.id, &eighteen)
        .await
        .expect("an acknowledged alert is still open");
    assert_eq!(acked.episode, eighteen);
    let resolved = s
        .records
        .resolve_alert(&a.id, T0 + 1500 * S)
        .await
        .expect("resolve");
    assert_eq!(resolved.episode, eighteen, "resolve keeps it");
    let late = Episode {
        count: 19,
        ..eighteen
    };
    let after = s.records.record_episode(&a.id, &late).await.expect("call");
    assert_eq!(after, resolved, "a resolved alert's episode is final");
    assert_eq!(
        s.records.get_alert(&a.id).await.expect("get").episode,
        eighteen
    );
}
