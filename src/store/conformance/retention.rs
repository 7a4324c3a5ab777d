//! Conformance: ending sessions, and retention of ended ones. Every check holds with and
//! without retention ([`SessionStore::retention`]): an ended session is never usable again and
//! never counts as active; with retention it is listed as ended, with its reason and time,
//! until `delete_expired` purges it once the period has passed (and not before).
//!
//! End times are explicit and ten seconds in the past, so purges at chosen instants touch no
//! session of another check sharing the store.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{load, raw, sample, set, unique_user};
use crate::error::StoreError;
use crate::store::{
    Admission, Admitted, EndReason, EndTarget, Ended, Overflow, SessionLimits, SessionPatch,
    SessionQuery, SessionRecord, SessionState, SessionStore,
};
use crate::token::{SessionId, TokenHash};

/// `at` rounded down to the millisecond, as stores keep it.
fn whole_ms(at: SystemTime) -> SystemTime {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

async fn listed<S: SessionStore>(
    store: &S,
    user: &str,
    state: SessionState,
    now: SystemTime,
) -> Vec<SessionRecord> {
    store
        .query(&SessionQuery {
            state,
            user: Some(user.to_owned()),
            now,
            offset: 0,
            limit: usize::MAX,
        })
        .await
        .expect("query")
}

/// Everything that must fail on the token of an ended session.
async fn assert_unusable<S: SessionStore>(store: &S, key: &TokenHash, why: &str) {
    assert!(
        load(store, key).await.is_none(),
        "{why}: load finds nothing"
    );
    let patch = set("after", Some(raw(&1)));
    assert!(
        !store.update(key, &patch).await.expect("update"),
        "{why}: update reports false"
    );
    let renew = SessionPatch {
        idle_expires_at: Some(SystemTime::now() + Duration::from_secs(3600)),
        ..SessionPatch::default()
    };
    assert!(
        !store.update(key, &renew).await.expect("update"),
        "{why}: a renewal does not bring it back"
    );
    let (new, _) = sample(None, Duration::ZERO);
    assert!(
        !store.rotate(key, &new, &patch).await.expect("rotate"),
        "{why}: rotate reports false"
    );
    assert!(
        load(store, &new).await.is_none(),
        "{why}: a refused rotate creates nothing"
    );
    assert!(load(store, key).await.is_none(), "{why}: still nothing");
}

/// One session per way of ending, each checked unusable and inactive, and (with retention)
/// listed as ended with its reason and time until purged after the period.
pub(super) async fn ended_sessions_are_never_used_again<S: SessionStore>(store: &S) {
    let user = unique_user("ended");
    let now = SystemTime::now();
    let at = now - Duration::from_secs(10);
    let mut keys: Vec<(TokenHash, SessionRecord)> = Vec::new();
    for age in 1..=6 {
        let (key, record) = sample(Some(&user), Duration::from_secs(age * 10));
        store.create(&key, record.clone()).await.expect("create");
        keys.push((key, record));
    }
    let reason_of = |n: usize| {
        [
            EndReason::LoggedOut,
            EndReason::Revoked,
            EndReason::ExpiredIdle,
            EndReason::ExpiredAbsolute,
            EndReason::Revoked,
            EndReason::Revoked,
        ][n]
    };
    let before = store.count_active(now).await.expect("count_active");
    // By id, by key, and the rest of the user's but the first (which is ended already).
    let ended = |n| Ended::new(at, reason_of(n));
    let by_id = EndTarget::Id(&keys[0].1.id);
    assert_eq!(store.end(by_id, ended(0)).await.expect("end"), 1);
    assert_eq!(
        store.end(by_id, ended(1)).await.expect("end"),
        0,
        "ending an ended session ends nothing"
    );
    assert_eq!(
        store
            .end(EndTarget::Id(&SessionId([0; 16])), ended(1))
            .await
            .expect("end"),
        0,
        "an unknown id ends nothing"
    );
    for (n, (key, _)) in keys.iter().enumerate().take(4).skip(1) {
        let target = EndTarget::Key(key);
        assert_eq!(store.end(target, ended(n)).await.expect("end"), 1);
    }
    let rest = EndTarget::User {
        user: &user,
        except: Some(&keys[5].1.id),
    };
    assert_eq!(
        store.end(rest, ended(4)).await.expect("end"),
        1,
        "ending a user's sessions ends only those not ended yet, but the excepted one"
    );
    let everyone = EndTarget::User {
        user: &user,
        except: None,
    };
    assert_eq!(store.end(everyone, ended(5)).await.expect("end"), 1);
    for (n, (key, _)) in keys.iter().enumerate() {
        assert_unusable(store, key, reason_of(n).as_str()).await;
    }
    assert_eq!(
        store.count_by_user(&user, now).await.expect("count"),
        0,
        "ended sessions are not counted"
    );
    let after = store.count_active(now).await.expect("count_active");
    assert_eq!(
        (after.sessions, after.users),
        (before.sessions - 6, before.users - 1),
        "ended sessions and their user leave the store-wide count"
    );
    assert!(
        store
            .list_by_user(&user, now)
            .await
            .expect("list")
            .is_empty(),
        "ended sessions are not listed as active"
    );
    assert!(
        listed(store, &user, SessionState::Active, now)
            .await
            .is_empty(),
        "an admin listing of active sessions leaves ended ones out"
    );
    // A new login of the same user under a cap of one evicts nothing: none is active. (At
    // `at`, so that its eviction below ends at the same instant as the others.)
    let (key, record) = sample(Some(&user), Duration::ZERO);
    let limits = SessionLimits {
        per_user: Some((1, Overflow::Refuse)),
        total: None,
    };
    let admitted = store
        .admit(&user, Admission::Create { key: &key, record }, &limits, at)
        .await
        .expect("admit");
    assert_eq!(
        admitted,
        Admitted::SignedIn {
            evicted: Vec::new()
        },
        "ended sessions take no room under a cap"
    );
    assert_eq!(store.count_by_user(&user, now).await.expect("count"), 1);
    // Its next session evicts it.
    let (newer, record) = sample(Some(&user), Duration::ZERO);
    let evict = SessionLimits {
        per_user: Some((1, Overflow::EvictLeastRecentlyUsed)),
        total: None,
    };
    let admitted = store
        .admit(
            &user,
            Admission::Create {
                key: &newer,
                record,
            },
            &evict,
            at,
        )
        .await
        .expect("admit");
    assert!(
        matches!(&admitted, Admitted::SignedIn { evicted } if evicted.len() == 1),
        "a login past the cap evicts the earlier one: {admitted:?}"
    );
    assert_unusable(store, &key, "evicted").await;
    assert_eq!(store.count_by_user(&user, now).await.expect("count"), 1);

    let expired = listed(store, &user, SessionState::Expired, now).await;
    let Some(period) = store.retention() else {
        assert!(
            expired.is_empty(),
            "without retention, ending a session deletes it"
        );
        assert_eq!(store.delete_by_user(&user, None).await.expect("cleanup"), 1);
        return;
    };
    // Retained: listed under Expired and All with reason and time, never under Active.
    assert_eq!(expired.len(), 7, "every ended session is listed as expired");
    for (n, (_, record)) in keys.iter().enumerate() {
        let got = expired.iter().find(|r| r.id == record.id).expect("listed");
        let want = Ended::new(whole_ms(at), reason_of(n));
        assert_eq!(got.ended, Some(want), "the end of session {n} is kept");
        assert_eq!(got.end(now), Some(want), "and shown as its end");
        assert_eq!(
            got.user.as_deref(),
            Some(&*user),
            "ended sessions keep the user"
        );
        assert!(!got.is_active(now));
    }
    let evicted = expired
        .iter()
        .find(|r| !keys.iter().any(|(_, k)| k.id == r.id))
        .expect("the evicted session is listed");
    assert_eq!(
        evicted.ended,
        Some(Ended::new(whole_ms(at), EndReason::Evicted)),
        "eviction is its reason"
    );
    assert_eq!(
        listed(store, &user, SessionState::All, now).await.len(),
        8,
        "All lists the ended sessions and the active one"
    );
    assert!(
        matches!(
            store.create(&keys[0].0, keys[0].1.clone()).await,
            Err(StoreError::Conflict)
        ),
        "an ended session's key cannot be created again"
    );
    let (live, record) = sample(None, Duration::ZERO);
    store.create(&live, record).await.expect("create");
    assert!(
        matches!(
            store
                .rotate(&live, &keys[1].0, &SessionPatch::default())
                .await,
            Err(StoreError::Conflict)
        ),
        "nor rotated onto"
    );
    assert!(
        load(store, &live).await.is_some(),
        "a refused rotate keeps the session"
    );
    assert!(store.delete(&live).await.expect("delete"));
    // Purged once the period has passed since the end, not before.
    store
        .delete_expired(at + period - Duration::from_secs(1))
        .await
        .expect("delete_expired");
    assert_eq!(
        listed(store, &user, SessionState::Expired, now).await.len(),
        7,
        "kept until the retention period has passed"
    );
    let purged = store
        .delete_expired(at + period)
        .await
        .expect("delete_expired");
    assert!(purged >= 6, "the purge counts the ended sessions: {purged}");
    let left = listed(store, &user, SessionState::All, now).await;
    assert_eq!(
        left.iter().map(|r| r.ended).collect::<Vec<_>>(),
        [None],
        "only the evicting login is left after the period: {left:?}"
    );
    for (key, _) in &keys {
        assert_unusable(store, key, "purged").await;
    }
    assert_eq!(store.delete_by_user(&user, None).await.expect("cleanup"), 1);
}

/// An expired session nobody ended is listed with its expiry as its end, and with retention
/// it stays listed for the period after its deadline.
pub(super) async fn expired_sessions_show_their_expiry<S: SessionStore>(store: &S) {
    let user = unique_user("expiry");
    let now = SystemTime::now();
    let (idle_key, mut idle) = sample(Some(&user), Duration::from_secs(100));
    idle.idle_expires_at = now - Duration::from_secs(20);
    let (abs_key, mut absolute) = sample(Some(&user), Duration::from_secs(200));
    absolute.expires_at = now - Duration::from_secs(30);
    store.create(&idle_key, idle.clone()).await.expect("create");
    store
        .create(&abs_key, absolute.clone())
        .await
        .expect("create");
    let expired = listed(store, &user, SessionState::Expired, now).await;
    assert_eq!(expired.len(), 2, "both are listed as expired");
    let end_of = |id: SessionId| {
        expired
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| r.end(now))
            .expect("ended")
    };
    assert_eq!(
        end_of(idle.id),
        Ended::new(whole_ms(idle.idle_expires_at), EndReason::ExpiredIdle)
    );
    assert_eq!(
        end_of(absolute.id),
        Ended::new(whole_ms(absolute.expires_at), EndReason::ExpiredAbsolute)
    );
    let period = store.retention().unwrap_or_default();
    store
        .delete_expired(idle.idle_expires_at + period - Duration::from_secs(1))
        .await
        .expect("delete_expired");
    let left = listed(store, &user, SessionState::Expired, now).await;
    assert_eq!(
        left.iter().map(|r| r.id).collect::<Vec<_>>(),
        [idle.id],
        "each is kept for the period after its deadline, and no longer"
    );
    store
        .delete_expired(idle.idle_expires_at + period)
        .await
        .expect("delete_expired");
    assert!(
        listed(store, &user, SessionState::All, now)
            .await
            .is_empty(),
        "and purged after it"
    );
}
