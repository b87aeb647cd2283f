//! ReplayGuard behaviours: a provider request id acts once, also between two store
//! handles (two notifier replicas, or one before and after a restart).

use crate::fixtures::T0;
use cw_storage::Stores;

pub async fn a_request_id_is_fresh_once_and_a_replay_is_refused(s: &Stores) {
    let id = format!("sms:{}", cw_core::AlertId::random());
    assert!(s.records.first_use(&id, T0).await.expect("first use"));
    assert!(
        !s.records.first_use(&id, T0 + 1).await.expect("replay"),
        "a replayed id is refused"
    );
    let other = format!("gather:{}", cw_core::AlertId::random());
    assert!(
        s.records.first_use(&other, T0).await.expect("other id"),
        "another id is fresh"
    );
}

pub async fn racing_uses_of_one_request_id_let_exactly_one_win(s: &Stores) {
    let id = format!("sms:{}", cw_core::AlertId::random());
    let tries = (0..8).map(|i| {
        let records = s.records.clone();
        let id = id.clone();
        tokio::spawn(async move { records.first_use(&id, T0 + i).await })
    });
    let mut winners = 0;
    for t in tries {
        if t.await.expect("task").expect("first_use") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one racing use is first");
}

pub async fn ids_used_before_the_cut_are_forgotten_and_later_ones_still_refused(s: &Stores) {
    let tag = cw_core::AlertId::random();
    let (old, recent) = (format!("sms:old-{tag}"), format!("sms:recent-{tag}"));
    assert!(s.records.first_use(&old, T0).await.expect("old"));
    assert!(
        s.records
            .first_use(&recent, T0 + 100)
            .await
            .expect("recent")
    );
    let forgotten = s
        .records
        .forget_used_before(T0 + 100)
        .await
        .expect("forget");
    assert!(forgotten >= 1, "the old id is forgotten: {forgotten}");
    assert!(
        !s.records
            .first_use(&recent, T0 + 200)
            .await
            .expect("replay"),
        "an id used at the cut or after is still refused"
    );
    assert!(
        s.records.first_use(&old, T0 + 200).await.expect("reuse"),
        "the forgotten id no longer takes space"
    );
}
