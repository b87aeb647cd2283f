//! Re-checking an open live socket's access. The upgrade request is authorized once; an
//! assignment removed or a break-glass grant expired afterwards must still end the view
//! promptly, so each socket asks again every `live.access_recheck_s` with the REST routes'
//! own decision (`Caller::require_patient`, never a copy of its rules).
//!
//! Sockets of the same (user, patient) share one decision: a fresh one is at most one
//! interval old, so the store is read once per pair per interval however many tabs a
//! doctor has open, and a denial found by any of them ends all of them at once.

use crate::access::Caller;
use crate::app::AppState;
use crate::error::ApiError;
use cw_core::{PatientId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Why a re-check ends a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lost {
    /// The access decision is now a denial (close 4003, audited as a denial).
    Revoked,
    /// The decision could not be made (store or audit unavailable): fail closed (1011),
    /// as a REST request would fail rather than serve PHI unchecked or unaudited.
    Unchecked,
    /// The socket's session ended: logout, or a role change (close 4001, audited as a
    /// denial; `live::session_recheck`). Only that socket's: the user's other sessions
    /// may go on.
    SessionEnded,
}

type Key = (UserId, PatientId);

/// The shared decisions of the open sockets, by (user, patient).
#[derive(Default)]
pub struct AccessRechecks {
    pairs: Mutex<HashMap<Key, Arc<Pair>>>,
}

#[derive(Default)]
struct Pair {
    /// When access was last found allowed (`None`: never re-checked yet).
    allowed_at: tokio::sync::Mutex<Option<Instant>>,
    /// Cancelled when any socket of the pair finds the access gone.
    lost: CancellationToken,
    why: Mutex<Option<Lost>>,
}

/// One socket's membership in its (user, patient) pair; leaving drops the pair with the
/// last socket.
pub struct Membership<'a> {
    rechecks: &'a AccessRechecks,
    key: Key,
    pair: Option<Arc<Pair>>,
}

impl AccessRechecks {
    pub fn join(&self, caller: &Caller, patient: &PatientId) -> Membership<'_> {
        let key = (caller.user.clone(), patient.clone());
        let pair = self
            .lock()
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Pair::default()))
            .clone();
        Membership {
            rechecks: self,
            key,
            pair: Some(pair),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Pair>>> {
        self.pairs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pairs with open sockets.
    #[cfg(test)]
    fn pairs(&self) -> usize {
        self.lock().len()
    }
}

impl Membership<'_> {
    fn pair(&self) -> &Arc<Pair> {
        self.pair
            .as_ref()
            .expect("a membership holds its pair until dropped")
    }

    /// Resolves when another socket of this pair found the access gone.
    pub async fn lost(&self) -> Lost {
        let pair = self.pair();
        pair.lost.cancelled().await;
        pair.why
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or(Lost::Revoked)
    }

    /// Whether the caller still has access: a decision younger than `fresh` is reused,
    /// otherwise `require_patient` decides (one store read; under break-glass also the
    /// `break_glass_access` audit record every access gets).
    pub async fn recheck(
        &self,
        state: &AppState,
        caller: &Caller,
        fresh: Duration,
    ) -> Result<(), Lost> {
        self.recheck_with(fresh, || caller.recheck_patient(state, &self.key.1))
            .await
    }

    /// [`Self::recheck`] with the decision given (`decide` runs only when none is fresh).
    async fn recheck_with<F, Fut>(&self, fresh: Duration, decide: F) -> Result<(), Lost>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), ApiError>>,
    {
        let pair = self.pair();
        // Held across the check, so sockets of one pair ticking together read once.
        let mut allowed_at = pair.allowed_at.lock().await;
        if pair.lost.is_cancelled() {
            return Err(self.why());
        }
        if allowed_at.is_some_and(|at| at.elapsed() < fresh) {
            return Ok(());
        }
        let lost = match decide().await {
            Ok(()) => {
                *allowed_at = Some(Instant::now());
                return Ok(());
            }
            Err(ApiError::Forbidden | ApiError::Unauthorized(_) | ApiError::NotFound(_)) => {
                Lost::Revoked
            }
            Err(e) => {
                tracing::warn!(user = %self.key.0, patient = %self.key.1, error = %e, "live: access re-check failed; closing the socket");
                Lost::Unchecked
            }
        };
        *pair.why.lock().unwrap_or_else(PoisonError::into_inner) = Some(lost.clone());
        pair.lost.cancel();
        // A socket opened after this (say, once re-assigned) starts a fresh pair.
        let mut pairs = self.rechecks.lock();
        if pairs.get(&self.key).is_some_and(|p| Arc::ptr_eq(p, pair)) {
            pairs.remove(&self.key);
        }
        Err(lost)
    }

    fn why(&self) -> Lost {
        self.pair()
            .why
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or(Lost::Revoked)
    }
}

impl Drop for Membership<'_> {
    fn drop(&mut self) {
        let Some(pair) = self.pair.take() else { return };
        let mut pairs = self.rechecks.lock();
        // Only the map holds it once this socket lets go: no socket of the pair is left.
        if pairs
            .get(&self.key)
            .is_some_and(|p| Arc::ptr_eq(p, &pair) && Arc::strong_count(p) == 2)
        {
            pairs.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::Role;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn caller(user: &UserId) -> Caller {
        Caller {
            user: user.clone(),
            role: Role::Doctor,
            session: None,
            rule: None,
        }
    }

    const FRESH: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn sockets_of_one_user_and_patient_share_one_decision_per_interval() {
        let rechecks = AccessRechecks::default();
        let (user, patient) = (UserId::random(), PatientId::random());
        let (a, b) = (
            rechecks.join(&caller(&user), &patient),
            rechecks.join(&caller(&user), &patient),
        );
        let reads = AtomicUsize::new(0);
        let allow = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        assert_eq!(a.recheck_with(FRESH, allow).await, Ok(()));
        assert_eq!(b.recheck_with(FRESH, allow).await, Ok(()));
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "the second socket reuses it"
        );
        // A stale decision is made again.
        assert_eq!(a.recheck_with(Duration::ZERO, allow).await, Ok(()));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        assert_eq!(rechecks.pairs(), 1);
        drop(a);
        assert_eq!(rechecks.pairs(), 1, "b still watches");
        drop(b);
        assert_eq!(
            rechecks.pairs(),
            0,
            "the last socket takes the pair with it"
        );
    }

    #[tokio::test]
    async fn a_denial_found_by_one_socket_ends_every_socket_of_the_pair_but_no_other() {
        let rechecks = AccessRechecks::default();
        let (user, other_user, patient) = (UserId::random(), UserId::random(), PatientId::random());
        let a = rechecks.join(&caller(&user), &patient);
        let b = rechecks.join(&caller(&user), &patient);
        let colleague = rechecks.join(&caller(&other_user), &patient);
        let denied = a
            .recheck_with(FRESH, || async { Err(ApiError::Forbidden) })
            .await;
        assert_eq!(denied, Err(Lost::Revoked));
        let told = tokio::time::timeout(Duration::from_secs(1), b.lost()).await;
        assert_eq!(told, Ok(Lost::Revoked), "b is told at once");
        assert_eq!(
            b.recheck_with(FRESH, || async { Ok(()) }).await,
            Err(Lost::Revoked),
            "a lost pair stays lost"
        );
        let colleague_told =
            tokio::time::timeout(Duration::from_millis(50), colleague.lost()).await;
        assert!(
            colleague_told.is_err(),
            "another user's socket is untouched"
        );
        // Re-assigned later: a new socket starts a fresh pair.
        let again = rechecks.join(&caller(&user), &patient);
        assert_eq!(again.recheck_with(FRESH, || async { Ok(()) }).await, Ok(()));
    }

    #[tokio::test]
    async fn a_decision_that_cannot_be_made_fails_closed() {
        let rechecks = AccessRechecks::default();
        let socket = rechecks.join(&caller(&UserId::random()), &PatientId::random());
        let unchecked = socket
            .recheck_with(FRESH, || async { Err(ApiError::AuditUnavailable) })
            .await;
        assert_eq!(unchecked, Err(Lost::Unchecked));
    }
}
