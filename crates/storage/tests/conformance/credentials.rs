//! CredentialStore behaviours: lockout counting, single-use refresh tokens, family
//! revocation.

use cw_core::secret::ExposeSecret;
use cw_core::{Role, UserId};
use cw_storage::credentials::{Login, LoginAttempt, RefreshToken, RefreshUse};
use cw_storage::{StoreError, Stores};

fn login(user: &UserId) -> Login {
    Login {
        user: user.clone(),
        role: Role::Doctor,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        failures: 0,
        locked_until_ns: 0,
    }
}

pub async fn attempts_lock_a_login_at_the_threshold_and_success_clears_them(s: &Stores) {
    let user = UserId::random();
    s.records.put_login(&login(&user)).await.expect("put");
    let stored = s.records.login(&user).await.expect("get");
    let want = login(&user);
    assert_eq!(
        (
            &stored.user,
            stored.role,
            stored.password_hash.expose_secret()
        ),
        (&want.user, want.role, want.password_hash.expose_secret())
    );
    assert_eq!((stored.failures, stored.locked_until_ns), (0, 0));
    let attempt = || s.records.begin_login_attempt(&user, 1_000, 3, 500);
    for n in 1..3 {
        let counted = attempt().await.expect("count");
        assert!(
            matches!(&counted, LoginAttempt::Admitted(l) if (l.failures, l.locked_until_ns) == (n, 0)),
            "{counted:?}"
        );
    }
    s.records.clear_login_failures(&user).await.expect("clear");
    assert_eq!(s.records.login(&user).await.expect("get").failures, 0);
    for _ in 0..2 {
        attempt().await.expect("count");
    }
    // The third attempt is admitted and locks; the next is refused unchecked.
    let locking = attempt().await.expect("count");
    assert!(
        matches!(&locking, LoginAttempt::Admitted(l) if (l.failures, l.locked_until_ns) == (0, 1_500)),
        "{locking:?}"
    );
    assert!(matches!(
        attempt().await.expect("count"),
        LoginAttempt::Locked
    ));
    assert_eq!(
        s.records.login(&user).await.expect("get").locked_until_ns,
        1_500
    );
    // After the lock has run out, attempts are admitted again.
    assert!(matches!(
        s.records.begin_login_attempt(&user, 1_500, 3, 500).await,
        Ok(LoginAttempt::Admitted(_))
    ));
    // A success (the password checked out) clears the count and its own lock.
    s.records.clear_login_failures(&user).await.expect("clear");
    let cleared = s.records.login(&user).await.expect("get");
    assert_eq!((cleared.failures, cleared.locked_until_ns), (0, 0));
    assert!(matches!(
        s.records
            .begin_login_attempt(&UserId::random(), 1_000, 3, 500)
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn racing_attempts_admit_no_more_than_the_threshold(s: &Stores) {
    let user = UserId::random();
    s.records.put_login(&login(&user)).await.expect("put");
    let attempts = (0..12).map(|_| s.records.begin_login_attempt(&user, 1_000, 5, 500));
    let outcomes = futures::future::join_all(attempts).await;
    let admitted = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(LoginAttempt::Admitted(_))))
        .count();
    let locked = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(LoginAttempt::Locked)))
        .count();
    assert_eq!((admitted, locked), (5, 7), "{outcomes:?}");
}

pub async fn a_refresh_token_is_fresh_once_and_revocation_covers_its_family(s: &Stores) {
    let user = UserId::random();
    let token = |hash: &str, family: &str| RefreshToken {
        token_sha256: hash.into(),
        user: user.clone(),
        family: family.into(),
        expires_ns: in_an_hour(),
        used: false,
        revoked: false,
    };
    for t in [token("h1", "f1"), token("h2", "f1"), token("h3", "f2")] {
        s.records.insert_refresh(&t).await.expect("insert");
    }
    assert!(matches!(
        s.records.use_refresh("h1").await.expect("use"),
        RefreshUse::Fresh(t) if t.family == "f1" && t.used
    ));
    assert!(matches!(
        s.records.use_refresh("h1").await.expect("reuse"),
        RefreshUse::Reused(_)
    ));
    s.records.revoke_refresh_family("f1").await.expect("revoke");
    assert!(matches!(
        s.records.use_refresh("h2").await.expect("use"),
        RefreshUse::Reused(t) if t.revoked
    ));
    assert!(matches!(
        s.records.use_refresh("h3").await.expect("other family"),
        RefreshUse::Fresh(_)
    ));
    assert!(matches!(
        s.records.use_refresh("nope").await,
        Err(StoreError::NotFound)
    ));
}

pub async fn revoking_a_users_refresh_tokens_spares_other_users(s: &Stores) {
    let (user, other) = (UserId::random(), UserId::random());
    let token = |hash: &str, owner: &UserId| RefreshToken {
        token_sha256: format!("{hash}-{owner}"),
        user: owner.clone(),
        family: format!("family-{hash}-{owner}"),
        expires_ns: in_an_hour(),
        used: false,
        revoked: false,
    };
    let tokens = [token("a", &user), token("b", &user), token("a", &other)];
    for t in &tokens {
        s.records.insert_refresh(t).await.expect("insert");
    }
    s.records
        .revoke_refresh_of_user(&user)
        .await
        .expect("revoke the user's");
    for t in &tokens[..2] {
        assert!(matches!(
            s.records.use_refresh(&t.token_sha256).await.expect("use"),
            RefreshUse::Reused(found) if found.revoked
        ));
    }
    assert!(matches!(
        s.records
            .use_refresh(&tokens[2].token_sha256)
            .await
            .expect("use"),
        RefreshUse::Fresh(_)
    ));
}

pub async fn login_roles_lists_every_login_by_user(s: &Stores) {
    assert!(s.records.login_roles().await.expect("none").is_empty());
    let (a, b) = (UserId::random(), UserId::random());
    s.records.put_login(&login(&a)).await.expect("put a");
    s.records
        .put_login(&Login {
            role: Role::Admin,
            ..login(&b)
        })
        .await
        .expect("put b");
    // Replacing a login lists it once, with its new role.
    s.records.put_login(&login(&b)).await.expect("replace b");
    let mut want = vec![(a, Role::Doctor), (b, Role::Doctor)];
    want.sort_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
    assert_eq!(s.records.login_roles().await.expect("list"), want);
}

/// A refresh token's expiry as the api sets it: in the future, so that the retention
/// sweep (embedded) or TTL monitor (MongoDB) leaves it alone during the test.
fn in_an_hour() -> cw_core::time::Nanos {
    cw_core::time::now_ns() + 3_600 * cw_core::time::NANOS_PER_SEC
}
