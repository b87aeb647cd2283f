//! Open live sockets per user (issue 13 #8): one account may hold at most
//! `live.max_sockets_per_user` of them, so a stolen token or a runaway client cannot take
//! the server's `max_connections` (and their buffers) for itself. A place is taken when
//! the upgrade is accepted — before the handshake, so racing upgrades cannot pass the
//! limit together — and given back when its [`Place`] drops with the socket.
//!
//! The user's sockets also share one read of the account record for the session re-check
//! (`live::session_recheck`): the store is read once per user per interval however many
//! sockets the user has open.

use cw_core::{User, UserId};
use cw_storage::{ApiRecords, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The account record as last read (`None`: the user has no record), and when.
type Account = Arc<tokio::sync::Mutex<Option<(Instant, Option<User>)>>>;

type Open = Arc<Mutex<HashMap<UserId, Entry>>>;

struct Entry {
    sockets: usize,
    account: Account,
}

#[derive(Default)]
pub struct UserSockets {
    open: Open,
}

/// One socket's place among its user's; dropping it frees the place.
pub struct Place {
    open: Open,
    user: UserId,
    account: Account,
}

impl UserSockets {
    /// A place for one more socket of `user`, or `None` when `limit` are open already.
    pub fn take(&self, user: &UserId, limit: usize) -> Option<Place> {
        let mut open = lock(&self.open);
        let sockets = open.get(user).map_or(0, |e| e.sockets);
        if sockets >= limit {
            return None;
        }
        let entry = open.entry(user.clone()).or_insert_with(|| Entry {
            sockets: 0,
            account: Account::default(),
        });
        entry.sockets += 1;
        Some(Place {
            open: self.open.clone(),
            user: user.clone(),
            account: entry.account.clone(),
        })
    }

    /// Sockets open for `user`.
    #[cfg(test)]
    fn of(&self, user: &UserId) -> usize {
        lock(&self.open).get(user).map_or(0, |e| e.sockets)
    }
}

impl Place {
    /// The user's account record (`None`: no record) as read at most `fresh` ago: one
    /// read shared by the user's sockets. A failed read is not kept.
    pub async fn account(
        &self,
        records: &dyn ApiRecords,
        fresh: Duration,
    ) -> Result<Option<User>, StoreError> {
        // Held across the read, so sockets of one user ticking together read once.
        let mut last = self.account.lock().await;
        if let Some((at, user)) = last.as_ref()
            && at.elapsed() < fresh
        {
            return Ok(user.clone());
        }
        let user = match records.user(&self.user).await {
            Ok(found) => Some(found),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        *last = Some((Instant::now(), user.clone()));
        Ok(user)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(entry) = open.get_mut(&self.user) {
            entry.sockets = entry.sockets.saturating_sub(1);
            if entry.sockets == 0 {
                // No entry outlives a user's last socket: the map holds only users online.
                open.remove(&self.user);
            }
        }
    }
}

fn lock(open: &Mutex<HashMap<UserId, Entry>>) -> MutexGuard<'_, HashMap<UserId, Entry>> {
    open.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_at_most_the_limit_and_a_closed_socket_frees_its_place() {
        let sockets = UserSockets::default();
        let (user, other) = (UserId::random(), UserId::random());
        let held: Vec<Place> = (0..3).filter_map(|_| sockets.take(&user, 3)).collect();
        assert_eq!(held.len(), 3);
        assert!(sockets.take(&user, 3).is_none(), "the fourth is refused");
        assert!(sockets.take(&other, 3).is_some(), "another user is not");
        drop(held);
        assert_eq!(sockets.of(&user), 0);
        assert!(lock(&sockets.open).is_empty(), "no entry is left behind");
        assert!(sockets.take(&user, 0).is_none(), "a limit of 0 refuses all");
        assert!(lock(&sockets.open).is_empty());
    }
}
