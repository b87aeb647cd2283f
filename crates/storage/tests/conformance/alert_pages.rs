//! AlertPages: keyset pages cover every matching alert once, newest first, with filters.

use crate::fixtures::{alert, patient_id};
use cw_core::{AlertState, Priority, RuleKind};
use cw_storage::Stores;
use cw_storage::alert_pages::AlertPageQuery;

pub async fn pages_cover_every_alert_once_newest_first_and_filter(s: &Stores) {
    let (p, q) = (patient_id(), patient_id());
    let mut expected = Vec::new();
    for i in 0..7 {
        // Two alerts share each firing time, so the id breaks ties across pages.
        let mut a = alert(&p, RuleKind::HrHigh, 1_000 + (i / 2) * 10);
        if i == 3 {
            a.priority = Priority::Low;
        }
        s.records.open_alert(&a).await.expect("open");
        s.records
            .resolve_alert(&a.id, a.fired_ns + 1)
            .await
            .expect("resolve");
        expected.push(a.id);
    }
    s.records
        .open_alert(&alert(&q, RuleKind::HrHigh, 5_000))
        .await
        .expect("other patient");
    let mut query = AlertPageQuery {
        patients: vec![p.clone()],
        state: None,
        priority: None,
        before: None,
        limit: 3,
    };
    let mut seen = Vec::new();
    loop {
        let page = s.records.alerts_page(&query).await.expect("page");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        query.before = Some((last.fired_ns, last.id.clone()));
        seen.extend(page);
    }
    assert_eq!(seen.len(), 7);
    assert!(
        seen.windows(2)
            .all(|w| (w[0].fired_ns, &w[0].id) > (w[1].fired_ns, &w[1].id))
    );
    let mut ids: Vec<_> = seen.iter().map(|a| a.id.clone()).collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);

    let low = s
        .records
        .alerts_page(&AlertPageQuery {
            patients: vec![p.clone()],
            state: Some(AlertState::Resolved),
            priority: Some(Priority::Low),
            before: None,
            limit: 10,
        })
        .await
        .expect("filtered");
    assert_eq!(low.len(), 1);
    assert_eq!(low[0].priority, Priority::Low);
}
