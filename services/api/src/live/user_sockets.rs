//! Open live sockets per user (issue 13 #8): one account may hold at most
//! `live.max_sockets_per_user` of them, so a stolen token or a runaway client cannot take
//! the server's `max_connections` (and their buffers) for itself. A place is taken when
//! the upgrade is accepted — before the handshake, so racing upgrades cannot pass the
//! limit together — and given back when its [`Place`] drops with the socket.

use cw_core::UserId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

#[derive(Default)]
pub struct UserSockets {
    open: Arc<Mutex<HashMap<UserId, usize>>>,
}

/// One socket's place among its user's; dropping it frees the place.
pub struct Place {
    open: Arc<Mutex<HashMap<UserId, usize>>>,
    user: UserId,
}

impl UserSockets {
    /// A place for one more socket of `user`, or `None` when `limit` are open already.
    pub fn take(&self, user: &UserId, limit: usize) -> Option<Place> {
        let mut open = lock(&self.open);
        let count = open.entry(user.clone()).or_default();
        if *count >= limit {
            if *count == 0 {
                open.remove(user);
            }
            return None;
        }
        *count += 1;
        Some(Place {
            open: self.open.clone(),
            user: user.clone(),
        })
    }

    /// Sockets open for `user`.
    #[cfg(test)]
    fn of(&self, user: &UserId) -> usize {
        lock(&self.open).get(user).copied().unwrap_or(0)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // No entry outlives a user's last socket: the map holds only users online.
                open.remove(&self.user);
            }
        }
    }
}

fn lock(open: &Mutex<HashMap<UserId, usize>>) -> MutexGuard<'_, HashMap<UserId, usize>> {
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
