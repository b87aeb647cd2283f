//! What happens inside the api's live views, each event's log line and metric written
//! once (docs/architecture.md, "Internal events"). Logs name user ids only.

use crate::live::hub::LiveMetrics;
use cw_core::UserId;
use cw_runtime::InternalEvent;

cw_runtime::counting_events! {
    LiveMetrics {
        /// A live socket was refused: the server's `max_connections` are open.
        pub struct LiveRefusedBusy => refused_busy;
        /// A live socket was opened.
        pub struct LiveOpened => opened;
    }
}

/// A live socket was refused: the user has `max_sockets_per_user` open.
pub struct LiveRefusedPerUser<'a> {
    pub user: &'a UserId,
    pub limit: usize,
}

impl InternalEvent<LiveMetrics> for LiveRefusedPerUser<'_> {
    fn emit(self, metrics: &LiveMetrics) {
        metrics.refused_per_user.inc();
        tracing::warn!(user = %self.user, limit = self.limit, "live socket refused: too many open for this user");
    }
}

/// Messages a slow live socket missed (the client is told how many).
pub struct LiveDropped {
    pub messages: u64,
}

impl InternalEvent<LiveMetrics> for LiveDropped {
    fn emit(self, metrics: &LiveMetrics) {
        metrics.dropped.add(self.messages);
    }
}

/// Why a live socket was closed by the server, where it is counted.
pub enum LiveClose {
    /// The viewer may no longer see what it shows.
    Revoked,
    /// The client fell too far behind.
    Behind,
}

/// A live socket was closed by the server.
pub struct LiveClosed(pub LiveClose);

impl InternalEvent<LiveMetrics> for LiveClosed {
    fn emit(self, metrics: &LiveMetrics) {
        match self.0 {
            LiveClose::Revoked => &metrics.closed_revoked,
            LiveClose::Behind => &metrics.closed_behind,
        }
        .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Emit<'a> = Box<dyn Fn(&LiveMetrics) + 'a>;

    #[test]
    fn each_event_moves_its_metric() {
        let user = UserId::parse("dr-1").expect("valid");
        let cases: Vec<(&str, Emit)> = vec![
            (
                "cw_api_live_refused_busy_total 1",
                Box::new(|m| LiveRefusedBusy.emit(m)),
            ),
            (
                "cw_api_live_refused_per_user_total 1",
                Box::new(|m| {
                    LiveRefusedPerUser {
                        user: &user,
                        limit: 8,
                    }
                    .emit(m)
                }),
            ),
            (
                "cw_api_live_opened_total 1",
                Box::new(|m| LiveOpened.emit(m)),
            ),
            (
                "cw_api_live_dropped_total 5",
                Box::new(|m| LiveDropped { messages: 5 }.emit(m)),
            ),
            (
                "cw_api_live_closed_revoked_total 1",
                Box::new(|m| LiveClosed(LiveClose::Revoked).emit(m)),
            ),
            (
                "cw_api_live_closed_behind_total 1",
                Box::new(|m| LiveClosed(LiveClose::Behind).emit(m)),
            ),
        ];
        for (line, emit) in cases {
            let metrics = LiveMetrics::default();
            emit(&metrics);
            let text = metrics.render();
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn metrics_move_only_in_events() {
        cw_runtime::internal_event::assert_metrics_move_only_in_events(env!("CARGO_MANIFEST_DIR"));
    }
}
