//! The conformance suite every [`SessionStore`] must pass (feature `conformance`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! sessionward::store::conformance::run(&sessionward::store::MemoryStore::default()).await;
//! # }
//! ```
//!
//! Every check uses fresh random keys and user names, so the suite can run against a store
//! that other tests share, and twice against the same store. A failed check panics with the
//! name of the rule it broke.

use std::time::{Duration, SystemTime};

use serde_json::value::{to_raw_value, RawValue};

use super::{SessionPatch, SessionQuery, SessionRecord, SessionState, SessionStore};
use crate::error::StoreError;
use crate::token::{generate, SessionId, TokenHash};

mod by_id;
mod limits;
mod retention;
mod terms;

pub use limits::logins_racing_never_pass_the_limits;

/// Runs every check against `store`. Panics on the first broken rule.
///
/// The checks follow the store's [`retention`](SessionStore::retention): run the suite on a
/// store with retention and on one without.
///
/// Must run inside a Tokio runtime: the concurrency check spawns tasks (on a multi-thread
/// runtime they really run in parallel).
pub async fn run<S: SessionStore + Clone>(store: &S) {
    create_and_load(store).await;
    create_never_overwrites(store).await;
    by_id::load_by_id_finds_what_load_finds(store).await;
    update_is_per_key(store).await;
    update_never_resurrects(store).await;
    concurrent_updates_keep_every_key(store).await;
    rotate_is_atomic(store).await;
    delete_is_idempotent(store).await;
    user_index(store).await;
    user_change_moves_index(store).await;
    delete_expired_purges_only_expired(store).await;
    query_by_state_user_and_page(store).await;
    terms::terms_round_trip(store).await;
    limits::admit_follows_the_limits(store).await;
    limits::count_active_counts_signed_in_sessions(store).await;
    retention::ended_sessions_are_never_used_again(store).await;
    retention::expired_sessions_show_their_expiry(store).await;
}

/// A fresh key and an active session record for `user`, created at `now - age`.
pub fn sample(user: Option<&str>, age: Duration) -> (TokenHash, SessionRecord) {
    let (token, id) = generate().expect("OS randomness");
    let now = SystemTime::now();
    let created = now - age;
    let record = SessionRecord {
        id,
        user: user.map(str::to_owned),
        data: [("theme".to_owned(), raw(&"dark"))].into_iter().collect(),
        created_at: created,
        last_seen_at: created,
        expires_at: now + Duration::from_secs(3600),
        idle_expires_at: now + Duration::from_secs(600),
        user_agent: Some("conformance/1.0".to_owned()),
        ip: Some([127, 0, 0, 1].into()),
        terms: None,
        ended: None,
    };
    (token.hash(), record)
}

/// A user name no other run uses.
pub fn unique_user(prefix: &str) -> String {
    let (_, id) = generate().expect("OS randomness");
    format!("{prefix}-{id}")
}

fn raw<T: serde::Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    to_raw_value(value).expect("serializable")
}

fn set(key: &str, value: Option<Box<RawValue>>) -> SessionPatch {
    SessionPatch {
        data: vec![(key.to_owned(), value)],
        ..SessionPatch::default()
    }
}

/// Compares what matters, to the millisecond: stores may keep coarser timestamps.
fn assert_same(rule: &str, got: &SessionRecord, want: &SessionRecord) {
    let ms = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    };
    assert_eq!(got.id, want.id, "{rule}: id");
    assert_eq!(got.user, want.user, "{rule}: user");
    assert_eq!(got.data, want.data, "{rule}: data");
    assert_eq!(
        ms(got.created_at),
        ms(want.created_at),
        "{rule}: created_at"
    );
    assert_eq!(
        ms(got.last_seen_at),
        ms(want.last_seen_at),
        "{rule}: last_seen_at"
    );
    assert_eq!(
        ms(got.expires_at),
        ms(want.expires_at),
        "{rule}: expires_at"
    );
    assert_eq!(
        ms(got.idle_expires_at),
        ms(want.idle_expires_at),
        "{rule}: idle_expires_at"
    );
    assert_eq!(got.user_agent, want.user_agent, "{rule}: user_agent");
    assert_eq!(got.ip, want.ip, "{rule}: ip");
    assert_eq!(got.terms, want.terms, "{rule}: terms");
}

async fn load<S: SessionStore>(store: &S, key: &TokenHash) -> Option<SessionRecord> {
    store.load(key).await.expect("load")
}

async fn create_and_load<S: SessionStore>(store: &S) {
    let user = unique_user("create");
    let (key, record) = sample(Some(&user), Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let got = load(store, &key).await.expect("created session loads");
    if let Some(now) = store.load_now(&key) {
        let now = now
            .expect("load_now")
            .expect("created session loads at once");
        assert_same("load_now agrees with load", &now, &got);
    }
    assert_same("create then load round-trips every field", &got, &record);
    let (unknown, _) = sample(None, Duration::ZERO);
    assert!(
        load(store, &unknown).await.is_none(),
        "an unknown key loads as None"
    );
}

async fn create_never_overwrites<S: SessionStore>(store: &S) {
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let (_, mut other) = sample(None, Duration::ZERO);
    other.data = [("theme".to_owned(), raw(&"light"))].into_iter().collect();
    let again = store.create(&key, other.clone()).await;
    assert!(
        matches!(again, Err(StoreError::Conflict)),
        "create on an existing key is a Conflict, got {again:?}"
    );
    let (key2, _) = sample(None, Duration::ZERO);
    let same_id = store.create(&key2, record.clone()).await;
    assert!(
        matches!(same_id, Err(StoreError::Conflict)),
        "create with an existing public id is a Conflict, got {same_id:?}"
    );
    let got = load(store, &key).await.expect("still there");
    assert_same(
        "a refused create leaves the session unchanged",
        &got,
        &record,
    );
}

async fn update_is_per_key<S: SessionStore>(store: &S) {
    let (key, mut record) = sample(None, Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let patch = SessionPatch {
        data: vec![
            ("count".to_owned(), Some(raw(&1))),
            ("theme".to_owned(), None),
        ],
        last_seen_at: Some(record.created_at + Duration::from_secs(5)),
        idle_expires_at: Some(record.idle_expires_at + Duration::from_secs(5)),
        ..SessionPatch::default()
    };
    assert!(
        store.update(&key, &patch).await.expect("update"),
        "update of a live session is true"
    );
    record.apply(&patch);
    let got = load(store, &key).await.expect("still there");
    assert_same(
        "update sets, removes and touches exactly what the patch says",
        &got,
        &record,
    );
    assert!(got.data.get_raw("theme").is_none(), "removed key is gone");
    // The common write: keys set and nothing else (stores may take a shorter path for it). A
    // key set twice in one patch keeps its last value.
    let sets = SessionPatch {
        data: vec![
            ("count".to_owned(), Some(raw(&2))),
            ("lang".to_owned(), Some(raw(&"fr"))),
            ("count".to_owned(), Some(raw(&3))),
        ],
        ..SessionPatch::default()
    };
    assert!(store.update(&key, &sets).await.expect("update"));
    record.apply(&sets);
    let got = load(store, &key).await.expect("still there");
    assert_same("an update that only sets keys", &got, &record);
    assert_eq!(got.data.get_raw("count").map(|v| v.get()), Some("3"));
}

async fn update_never_resurrects<S: SessionStore>(store: &S) {
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    assert!(store.delete(&key).await.expect("delete"));
    let changed = store
        .update(&key, &set("late", Some(raw(&true))))
        .await
        .expect("update");
    assert!(!changed, "update of a deleted session reports false");
    assert!(
        load(store, &key).await.is_none(),
        "update never brings a deleted session back"
    );
    assert!(
        !store.delete_by_id(&record.id).await.expect("delete_by_id"),
        "no record with the deleted id is left behind"
    );
}

async fn concurrent_updates_keep_every_key<S: SessionStore + Clone>(store: &S) {
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.spawn(async move {
            let patch = set(&format!("k{i}"), Some(raw(&i)));
            store.update(&key, &patch).await.expect("update")
        });
    }
    while let Some(updated) = tasks.join_next().await {
        assert!(
            updated.expect("task"),
            "every concurrent update finds the session"
        );
    }
    let got = load(store, &key).await.expect("still there");
    for i in 0..16 {
        let value = got
            .data
            .get_raw(&format!("k{i}"))
            .map(|v| v.get().to_owned());
        assert_eq!(
            value,
            Some(i.to_string()),
            "concurrent update of key k{i} was kept"
        );
    }
    assert!(
        got.data.get_raw("theme").is_some(),
        "untouched key survives concurrent updates"
    );
}

async fn rotate_is_atomic<S: SessionStore>(store: &S) {
    let user = unique_user("rotate");
    let (old, mut record) = sample(None, Duration::ZERO);
    store.create(&old, record.clone()).await.expect("create");
    let (new, _) = sample(None, Duration::ZERO);
    let patch = SessionPatch {
        user: Some(Some(user.clone())),
        data: vec![("cart".to_owned(), Some(raw(&[1, 2])))],
        ..SessionPatch::default()
    };
    assert!(
        store.rotate(&old, &new, &patch).await.expect("rotate"),
        "rotate of a live session"
    );
    record.apply(&patch);
    assert!(
        load(store, &old).await.is_none(),
        "the old key is dead after rotate"
    );
    let late = set("late", Some(raw(&true)));
    assert!(
        !store.update(&old, &late).await.expect("update"),
        "an update through the rotated-away key reports false"
    );
    let got = load(store, &new).await.expect("the new key loads");
    assert_same(
        "rotate keeps the record (same id) and applies the patch",
        &got,
        &record,
    );
    let listed = store
        .list_by_user(&user, SystemTime::now())
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "a user set by rotate is indexed");

    let (missing, _) = sample(None, Duration::ZERO);
    let (target, _) = sample(None, Duration::ZERO);
    assert!(
        !store
            .rotate(&missing, &target, &patch)
            .await
            .expect("rotate"),
        "rotate of an unknown key is false"
    );
    assert!(
        load(store, &target).await.is_none(),
        "a failed rotate creates nothing"
    );

    let (other, other_record) = sample(None, Duration::ZERO);
    store
        .create(&other, other_record.clone())
        .await
        .expect("create");
    let clash = store.rotate(&new, &other, &SessionPatch::default()).await;
    assert!(
        matches!(clash, Err(StoreError::Conflict)),
        "rotate onto an existing key is a Conflict"
    );
    assert!(
        load(store, &new).await.is_some(),
        "a refused rotate keeps the old key alive"
    );
    assert_same(
        "a refused rotate leaves the target alone",
        &load(store, &other).await.expect("other"),
        &other_record,
    );
}

async fn delete_is_idempotent<S: SessionStore>(store: &S) {
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    assert!(
        store.delete(&key).await.expect("delete"),
        "first delete finds the session"
    );
    assert!(
        !store.delete(&key).await.expect("delete"),
        "second delete is a no-op"
    );
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    assert!(store.delete_by_id(&record.id).await.expect("delete_by_id"));
    assert!(
        load(store, &key).await.is_none(),
        "delete_by_id kills the token"
    );
    assert!(
        !store.delete_by_id(&record.id).await.expect("delete_by_id"),
        "idempotent"
    );
}

async fn user_index<S: SessionStore>(store: &S) {
    let user = unique_user("index");
    let stranger = unique_user("stranger");
    let mut ids = Vec::new();
    for age in [30, 20, 10] {
        let (key, record) = sample(Some(&user), Duration::from_secs(age));
        store.create(&key, record.clone()).await.expect("create");
        ids.push(record.id);
    }
    let (stranger_key, stranger_record) = sample(Some(&stranger), Duration::ZERO);
    store
        .create(&stranger_key, stranger_record.clone())
        .await
        .expect("create");
    // An expired session of the user: stored, but neither listed nor counted.
    let (expired_key, mut expired) = sample(Some(&user), Duration::from_secs(5));
    expired.idle_expires_at = SystemTime::now() - Duration::from_secs(1);
    store
        .create(&expired_key, expired.clone())
        .await
        .expect("create");

    let now = SystemTime::now();
    let listed: Vec<SessionId> = store
        .list_by_user(&user, now)
        .await
        .expect("list")
        .iter()
        .map(|r| r.id)
        .collect();
    let newest_first: Vec<SessionId> = ids.iter().rev().copied().collect();
    assert_eq!(
        listed, newest_first,
        "list_by_user: the user's active sessions, newest first"
    );
    assert_eq!(
        store.count_by_user(&user, now).await.expect("count"),
        3,
        "count_by_user counts active ones"
    );

    let keep = ids[1];
    let deleted = store
        .delete_by_user(&user, Some(&keep))
        .await
        .expect("delete_by_user");
    assert_eq!(
        deleted, 3,
        "delete_by_user removes all but the excepted one (expired included)"
    );
    let left: Vec<SessionId> = store
        .list_by_user(&user, now)
        .await
        .expect("list")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, vec![keep], "only the excepted session is left");
    assert!(
        load(store, &stranger_key).await.is_some(),
        "other users' sessions are untouched"
    );
    assert_eq!(
        store
            .delete_by_user(&user, None)
            .await
            .expect("delete_by_user"),
        1
    );
    assert_eq!(store.count_by_user(&user, now).await.expect("count"), 0);
    assert!(store
        .list_by_user(&unique_user("nobody"), now)
        .await
        .expect("list")
        .is_empty());
}

async fn user_change_moves_index<S: SessionStore>(store: &S) {
    let (alice, bob) = (unique_user("alice"), unique_user("bob"));
    let (key, record) = sample(Some(&alice), Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let patch = SessionPatch {
        user: Some(Some(bob.clone())),
        ..SessionPatch::default()
    };
    assert!(store.update(&key, &patch).await.expect("update"));
    let now = SystemTime::now();
    assert_eq!(
        store.count_by_user(&alice, now).await.expect("count"),
        0,
        "old user unindexed"
    );
    assert_eq!(
        store.count_by_user(&bob, now).await.expect("count"),
        1,
        "new user indexed"
    );
    let signed_out = SessionPatch {
        user: Some(None),
        ..SessionPatch::default()
    };
    assert!(store.update(&key, &signed_out).await.expect("update"));
    assert_eq!(
        store.count_by_user(&bob, now).await.expect("count"),
        0,
        "a user cleared by update is unindexed"
    );
    assert_eq!(load(store, &key).await.expect("loads").user, None);
    assert!(store.delete(&key).await.expect("delete"));
}

async fn delete_expired_purges_only_expired<S: SessionStore>(store: &S) {
    let now = SystemTime::now();
    let (idle_key, mut idle) = sample(None, Duration::from_secs(60));
    idle.idle_expires_at = now - Duration::from_secs(1);
    let (abs_key, mut absolute) = sample(None, Duration::from_secs(60));
    absolute.expires_at = now - Duration::from_secs(1);
    let (live_key, live) = sample(None, Duration::ZERO);
    for (key, record) in [
        (&idle_key, &idle),
        (&abs_key, &absolute),
        (&live_key, &live),
    ] {
        store.create(key, record.clone()).await.expect("create");
    }
    // With retention, sessions are purged only once the period has passed after their end.
    let period = store.retention().unwrap_or_default();
    let purged = store
        .delete_expired(now + period)
        .await
        .expect("delete_expired");
    assert!(
        purged >= 2,
        "delete_expired reports at least the two expired sessions, got {purged}"
    );
    assert!(
        load(store, &idle_key).await.is_none(),
        "idle-expired session purged"
    );
    assert!(
        load(store, &abs_key).await.is_none(),
        "absolute-expired session purged"
    );
    assert!(
        load(store, &live_key).await.is_some(),
        "active session kept"
    );
}

async fn query_by_state_user_and_page<S: SessionStore>(store: &S) {
    let user = unique_user("query");
    let now = SystemTime::now();
    let mut active = Vec::new();
    for age in 1..=5 {
        let (key, record) = sample(Some(&user), Duration::from_secs(age * 10));
        store.create(&key, record.clone()).await.expect("create");
        active.push(record.id);
    }
    let (key, mut expired) = sample(Some(&user), Duration::from_secs(100));
    expired.expires_at = now - Duration::from_secs(1);
    store.create(&key, expired.clone()).await.expect("create");

    let query = |state, offset, limit| SessionQuery {
        state,
        user: Some(user.clone()),
        now,
        offset,
        limit,
    };
    let ids = |records: Vec<SessionRecord>| records.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let got = ids(store
        .query(&query(SessionState::Active, 0, 100))
        .await
        .expect("query"));
    assert_eq!(got, active, "active sessions of the user, newest first");
    let got = ids(store
        .query(&query(SessionState::Expired, 0, 100))
        .await
        .expect("query"));
    assert_eq!(got, vec![expired.id], "expired sessions of the user");
    let got = ids(store
        .query(&query(SessionState::All, 0, 100))
        .await
        .expect("query"));
    assert_eq!(got.len(), 6, "all sessions of the user");
    let page = ids(store
        .query(&query(SessionState::Active, 1, 2))
        .await
        .expect("query"));
    assert_eq!(
        page,
        active[1..3].to_vec(),
        "offset and limit page through the listing"
    );
    let everyone = store
        .query(&SessionQuery {
            user: None,
            ..query(SessionState::All, 0, usize::MAX)
        })
        .await
        .expect("query");
    assert!(
        everyone
            .iter()
            .filter(|r| r.user.as_deref() == Some(&*user))
            .count()
            == 6,
        "a query without user includes this user's sessions"
    );
    assert_eq!(store.delete_by_user(&user, None).await.expect("cleanup"), 6);
}
