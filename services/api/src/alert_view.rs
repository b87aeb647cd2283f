//! An alert as the api shows it, on REST and live sockets alike: the stored alert and the
//! one sentence about its episode ("17 pauses, longest 5.7 s"), built in one place
//! (`cw_core::Episode::summary`).

use cw_core::Alert;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    #[serde(flatten)]
    pub alert: Alert,
    /// The episode in words; null for an alert stored before episodes were recorded.
    pub summary: Option<String>,
}

impl From<Alert> for AlertView {
    fn from(alert: Alert) -> Self {
        let summary = alert.episode.summary(alert.rule);
        Self { alert, summary }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{Episode, PatientId, Priority, RuleKind};

    #[test]
    fn an_alert_shows_its_episode_and_the_summary_beside_it() {
        let alert = Alert {
            episode: Episode {
                count: 17,
                first_ns: 1,
                last_ns: 2,
                worst: 5.7,
            },
            ..Alert::firing(PatientId::random(), RuleKind::Pause, Priority::Medium, 1)
        };
        let json = serde_json::to_value(AlertView::from(alert.clone())).expect("serialises");
        assert_eq!(json["summary"], "17 pauses, longest 5.7 s");
        assert_eq!(json["episode"]["count"], 17);
        assert_eq!(json["id"], alert.id.as_str());
        let read: Alert = serde_json::from_value(json).expect("still reads as an alert");
        assert_eq!(read, alert);
    }
}
