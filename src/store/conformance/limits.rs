//! Conformance: session limits. `admit` evicts or refuses as [`SessionLimits::decide`] rules,
//! deletes what it evicts, and (the race) keeps the limits when logins run at once.
//!
//! Total limits are set relative to the store's count at the start of a check, so the checks
//! hold on a store that other sessions share.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{load, sample, unique_user};
use crate::store::{
    Admission, Admitted, LimitReached, Overflow, SessionLimits, SessionPatch, SessionRecord,
    SessionStore,
};
use crate::token::TokenHash;

fn per_user(cap: u32, overflow: Overflow) -> SessionLimits {
    SessionLimits {
        per_user: Some((cap, overflow)),
        total: None,
    }
}

/// A new signed-in session of `user`, last seen `ago` before now.
fn signed_in(user: &str, ago: Duration) -> (TokenHash, SessionRecord) {
    let (key, mut record) = sample(Some(user), ago);
    record.last_seen_at = SystemTime::now() - ago;
    (key, record)
}

async fn admit_new<S: SessionStore>(
    store: &S,
    limits: &SessionLimits,
    user: &str,
    ago: Duration,
) -> (TokenHash, SessionRecord, Admitted) {
    let (key, record) = signed_in(user, ago);
    let admitted = store
        .admit(
            user,
            Admission::Create {
                key: &key,
                record: record.clone(),
            },
            limits,
            SystemTime::now(),
        )
        .await
        .expect("admit");
    (key, record, admitted)
}

fn evicted_ids(admitted: &Admitted) -> Vec<crate::token::SessionId> {
    match admitted {
        Admitted::SignedIn { evicted } => evicted.iter().map(|r| r.id).collect(),
        other => panic!("expected a sign-in, got {other:?}"),
    }
}

pub(super) async fn admit_follows_the_limits<S: SessionStore>(store: &S) {
    let now = SystemTime::now;
    // Evict: the third session of a user with a limit of 2 evicts the least recently used.
    let user = unique_user("evict");
    let evict = per_user(2, Overflow::EvictLeastRecentlyUsed);
    let (old_key, old, first) = admit_new(store, &evict, &user, Duration::from_secs(300)).await;
    assert!(evicted_ids(&first).is_empty(), "room for the first session");
    let (_, _, second) = admit_new(store, &evict, &user, Duration::from_secs(60)).await;
    assert!(evicted_ids(&second).is_empty(), "room for the second");
    let (third_key, _, third) = admit_new(store, &evict, &user, Duration::ZERO).await;
    assert_eq!(
        evicted_ids(&third),
        [old.id],
        "the least recently used session is evicted"
    );
    assert!(
        load(store, &old_key).await.is_none(),
        "an evicted session is deleted"
    );
    assert_eq!(store.count_by_user(&user, now()).await.expect("count"), 2);

    // A re-login on a session the user holds is no new session: nothing is evicted.
    let (new_key, _) = sample(None, Duration::ZERO);
    let patch = SessionPatch {
        user: Some(Some(user.clone())),
        ..SessionPatch::default()
    };
    let relogin = Admission::Rotate {
        old: &third_key,
        new: &new_key,
        patch: &patch,
    };
    let admitted = store
        .admit(&user, relogin, &evict, now())
        .await
        .expect("admit");
    assert!(evicted_ids(&admitted).is_empty(), "a re-login evicts none");
    assert!(
        load(store, &new_key).await.is_some(),
        "the rotation happened"
    );
    assert!(load(store, &third_key).await.is_none());

    // A rotation of a session that is gone changes nothing.
    let (gone, _) = sample(None, Duration::ZERO);
    let (target, _) = sample(None, Duration::ZERO);
    let missing = Admission::Rotate {
        old: &gone,
        new: &target,
        patch: &patch,
    };
    let admitted = store.admit(&user, missing, &evict, now()).await;
    assert_eq!(admitted.expect("admit"), Admitted::Gone);
    assert!(load(store, &target).await.is_none());

    // Refuse: the third login is refused and changes nothing.
    let user = unique_user("refuse");
    let refuse = per_user(2, Overflow::Refuse);
    for ago in [60, 0] {
        let (_, _, admitted) = admit_new(store, &refuse, &user, Duration::from_secs(ago)).await;
        assert!(evicted_ids(&admitted).is_empty());
    }
    let (key, _, admitted) = admit_new(store, &refuse, &user, Duration::ZERO).await;
    assert_eq!(admitted, Admitted::Refused(LimitReached::PerUser));
    assert!(
        load(store, &key).await.is_none(),
        "a refused login stores nothing"
    );
    assert_eq!(store.count_by_user(&user, now()).await.expect("count"), 2);

    // Anonymous sessions signing in: the rotation is admitted like a creation.
    let (anonymous, record) = sample(None, Duration::ZERO);
    store.create(&anonymous, record).await.expect("create");
    let (signed, _) = sample(None, Duration::ZERO);
    let login = Admission::Rotate {
        old: &anonymous,
        new: &signed,
        patch: &SessionPatch {
            user: Some(Some(user.clone())),
            ..SessionPatch::default()
        },
    };
    let admitted = store.admit(&user, login, &refuse, now()).await;
    assert_eq!(
        admitted.expect("admit"),
        Admitted::Refused(LimitReached::PerUser)
    );
    assert!(
        load(store, &anonymous).await.is_some(),
        "a refused login leaves the anonymous session as it was"
    );
    assert!(load(store, &signed).await.is_none());

    // Expired sessions do not count.
    let user = unique_user("expired");
    let (_, mut expired) = sample(Some(&user), Duration::from_secs(7200));
    expired.expires_at = now() - Duration::from_secs(1);
    let (expired_key, _) = sample(None, Duration::ZERO);
    store.create(&expired_key, expired).await.expect("create");
    let (_, _, admitted) =
        admit_new(store, &per_user(1, Overflow::Refuse), &user, Duration::ZERO).await;
    assert!(
        evicted_ids(&admitted).is_empty(),
        "an expired session neither counts nor is evicted"
    );

    // Total: at most `base + 1` signed-in sessions; a second new one is refused, a re-login
    // is not.
    let base = store.count_active(now()).await.expect("count").sessions;
    let total = SessionLimits {
        per_user: None,
        total: Some(u32::try_from(base + 1).expect("a test store holds few sessions")),
    };
    let first_user = unique_user("total");
    let (key, _, admitted) = admit_new(store, &total, &first_user, Duration::ZERO).await;
    assert!(evicted_ids(&admitted).is_empty());
    let (refused, _, admitted) =
        admit_new(store, &total, &unique_user("total"), Duration::ZERO).await;
    assert_eq!(admitted, Admitted::Refused(LimitReached::Total));
    assert!(load(store, &refused).await.is_none());
    let (rotated, _) = sample(None, Duration::ZERO);
    let relogin = Admission::Rotate {
        old: &key,
        new: &rotated,
        patch: &SessionPatch {
            user: Some(Some(first_user.clone())),
            ..SessionPatch::default()
        },
    };
    let admitted = store.admit(&first_user, relogin, &total, now()).await;
    assert!(
        evicted_ids(&admitted.expect("admit")).is_empty(),
        "a re-login on a signed-in session passes the total limit"
    );
}

pub(super) async fn count_active_counts_signed_in_sessions<S: SessionStore>(store: &S) {
    let before = store.count_active(SystemTime::now()).await.expect("count");
    let (a, b) = (unique_user("count"), unique_user("count"));
    for user in [&a, &a, &b] {
        let (key, record) = sample(Some(user), Duration::ZERO);
        store.create(&key, record).await.expect("create");
    }
    let (key, anonymous) = sample(None, Duration::ZERO);
    store.create(&key, anonymous).await.expect("create");
    let after = store.count_active(SystemTime::now()).await.expect("count");
    assert_eq!(
        (after.sessions - before.sessions, after.users - before.users),
        (3, 2),
        "three signed-in sessions of two users; anonymous sessions do not count"
    );
}

/// The race: `n` logins of one user at once with a limit of `k` leave at most `k` sessions
/// (evict) or admit exactly `k` (refuse), and `n` logins of different users at once with a
/// total limit of `base + k` admit exactly `k`. Tasks start together behind a barrier; on a
/// multi-thread runtime they really run in parallel.
///
/// A separate call from [`run`](super::run): a store that keeps the default, non-atomic
/// [`SessionStore::admit`] passes `run` but not this.
pub async fn logins_racing_never_pass_the_limits<S: SessionStore + Clone>(store: &S) {
    const N: usize = 12;
    const K: u32 = 3;
    for overflow in [Overflow::EvictLeastRecentlyUsed, Overflow::Refuse] {
        let user = unique_user("race");
        let outcomes = race(store, per_user(K, overflow), |_| user.clone()).await;
        let now = SystemTime::now();
        let left = store.count_by_user(&user, now).await.expect("count");
        let signed_in = outcomes
            .iter()
            .filter(|a| matches!(a, Admitted::SignedIn { .. }))
            .count();
        match overflow {
            Overflow::EvictLeastRecentlyUsed => {
                assert_eq!(signed_in, N, "evict: every login goes ahead");
                assert!(
                    (1..=u64::from(K)).contains(&left),
                    "{N} racing logins with a limit of {K} left {left} sessions"
                );
                let evicted: usize = outcomes
                    .iter()
                    .map(|a| match a {
                        Admitted::SignedIn { evicted } => evicted.len(),
                        _ => 0,
                    })
                    .sum();
                assert_eq!(
                    evicted + left as usize,
                    N,
                    "every session is either left or reported evicted, once"
                );
            }
            Overflow::Refuse => {
                assert_eq!(signed_in, K as usize, "refuse: exactly {K} logins go ahead");
                assert_eq!(left, u64::from(K));
            }
        }
    }
    let base = store
        .count_active(SystemTime::now())
        .await
        .expect("count")
        .sessions;
    let total = SessionLimits {
        per_user: None,
        total: Some(u32::try_from(base).expect("few sessions") + K),
    };
    let outcomes = race(store, total, |i| unique_user(&format!("race{i}"))).await;
    let signed_in = outcomes
        .iter()
        .filter(|a| matches!(a, Admitted::SignedIn { .. }))
        .count();
    assert_eq!(
        signed_in, K as usize,
        "{N} racing logins of different users with room for {K} admit {K}"
    );
}

/// Runs `N` creating admissions at once, the i-th for user `user_of(i)`.
async fn race<S: SessionStore + Clone>(
    store: &S,
    limits: SessionLimits,
    user_of: impl Fn(usize) -> String,
) -> Vec<Admitted> {
    const N: usize = 12;
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let (store, barrier, user) = (store.clone(), Arc::clone(&barrier), user_of(i));
        tasks.spawn(async move {
            let (key, record) = signed_in(&user, Duration::from_millis(i as u64));
            barrier.wait().await;
            let admission = Admission::Create { key: &key, record };
            store
                .admit(&user, admission, &limits, SystemTime::now())
                .await
                .expect("admit")
        });
    }
    let mut outcomes = Vec::with_capacity(N);
    while let Some(outcome) = tasks.join_next().await {
        outcomes.push(outcome.expect("admit task"));
    }
    outcomes
}
