//! Session data and listings: concurrent updates, odd keys, queries, corrupt data, recovery.

use std::time::{Duration, SystemTime};

use serde_json::value::RawValue;
use sessionward::store::conformance::{sample, unique_user};
use sessionward::store::{RedisStore, SessionPatch, SessionQuery, SessionState, SessionStore};
use sessionward::token::SessionId;
use sessionward::StoreError;

use super::{raw_json, set, Layout, Raw};

/// 32 concurrent requests setting different keys (half also renewing) all keep their key.
pub async fn concurrent_updates_all_persist(store: &RedisStore) {
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let store = store.clone();
        tasks.spawn(async move {
            let mut patch = set(&format!("key-{i}"), Some(raw_json(&i)));
            if i % 2 == 0 {
                let now = SystemTime::now();
                patch.last_seen_at = Some(now);
                patch.idle_expires_at = Some(now + Duration::from_secs(600));
            }
            store.update(&key, &patch).await.expect("update")
        });
    }
    while let Some(updated) = tasks.join_next().await {
        assert!(updated.expect("task"), "every update finds the session");
    }
    let got = store.load(&key).await.expect("load").expect("session");
    for i in 0..32 {
        assert_eq!(
            got.data.get_raw(&format!("key-{i}")).map(RawValue::get),
            Some(i.to_string().as_str()),
            "concurrent update of key-{i} kept"
        );
    }
    assert_eq!(
        got.data.get_raw("theme").map(RawValue::get),
        Some("\"dark\"")
    );
    assert!(store.delete(&key).await.expect("delete"));
}

/// Keys and users with quotes, colons, braces, unicode and metadata-like names round-trip.
pub async fn odd_keys_round_trip(store: &RedisStore) {
    let user = format!("{} }}{{:\"ü\"", unique_user("odd"));
    let (key, mut record) = sample(Some(&user), Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let odd = [
        "he said \"hi\"",
        "a:b:c",
        "{braces}",
        "}{",
        "ünïcödé ✓ 🎉",
        "d:nested",
        "t",
        "u",
        "e",
        "",
        "back\\slash",
        "new\nline",
    ];
    let patch = SessionPatch {
        data: odd
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let value = serde_json::json!({ "i": i, "k": k, "q": "\"}{:" });
                ((*k).to_owned(), Some(raw_json(&value)))
            })
            .chain([("theme".to_owned(), None)])
            .collect(),
        ..SessionPatch::default()
    };
    assert!(store.update(&key, &patch).await.expect("update"));
    record.apply(&patch);
    let got = store.load(&key).await.expect("load").expect("session");
    assert_eq!(got.data, record.data, "every odd key round-trips");
    assert_eq!(got.user.as_deref(), Some(user.as_str()));
    assert!(got.data.get_raw("theme").is_none());
    // The metadata is intact although keys look like its field names.
    let millis = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    assert_eq!(millis(got.expires_at), millis(record.expires_at));
    let listed = store
        .list_by_user(&user, SystemTime::now())
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "an odd user name is indexed");
    assert_eq!(store.delete_by_user(&user, None).await.expect("delete"), 1);
}

/// `query` without a user finds every session of this store, whichever node holds it, and none
/// of another prefix's.
pub async fn query_lists_every_session(store: &RedisStore) {
    let user = unique_user("everyone");
    let mut ids = Vec::new();
    for age in 0..40 {
        let (key, record) = sample(Some(&user), Duration::from_secs(age));
        store.create(&key, record.clone()).await.expect("create");
        ids.push(record.id);
    }
    let other_store = store
        .clone()
        .with_prefix(format!("{}other:", store.prefix()));
    let (other_key, other) = sample(Some(&user), Duration::ZERO);
    other_store
        .create(&other_key, other.clone())
        .await
        .expect("create");

    let all = store
        .query(&SessionQuery {
            state: SessionState::All,
            user: None,
            now: SystemTime::now(),
            offset: 0,
            limit: usize::MAX,
        })
        .await
        .expect("query");
    let mine: Vec<SessionId> = all
        .iter()
        .filter(|r| r.user.as_deref() == Some(user.as_str()))
        .map(|r| r.id)
        .collect();
    assert_eq!(mine, ids, "every session listed once, newest first");
    assert!(
        all.iter().all(|r| r.id != other.id),
        "another prefix's sessions are not listed"
    );
    let page = store
        .query(&SessionQuery {
            state: SessionState::Active,
            user: None,
            now: SystemTime::now(),
            offset: 0,
            limit: 5,
        })
        .await
        .expect("query");
    assert_eq!(page.len(), 5, "limit applies to the listing");
    assert_eq!(store.delete_by_user(&user, None).await.expect("delete"), 40);
    assert_eq!(
        other_store
            .delete_by_user(&user, None)
            .await
            .expect("delete"),
        1
    );
}

/// Undecodable data is `Corrupt`, never a panic; `delete_expired` purges a record whose
/// deadlines cannot be read.
pub async fn corrupt_data_is_an_error(store: &RedisStore, raw: &Raw) {
    let keys = Layout::of(store);
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let rec_key = keys.record(&key);
    let _: i64 = raw
        .query(
            redis::cmd("HSET")
                .arg(&rec_key)
                .arg("d:bad")
                .arg("{not json"),
        )
        .await;
    let got = store.load(&key).await;
    assert!(
        matches!(got, Err(StoreError::Corrupt(_))),
        "bad JSON: {got:?}"
    );
    let _: i64 = raw
        .query(redis::cmd("HSET").arg(&rec_key).arg("m").arg("tomorrow"))
        .await;
    assert!(matches!(
        store.load(&key).await,
        Err(StoreError::Corrupt(_))
    ));
    let purged = store
        .delete_expired(SystemTime::now())
        .await
        .expect("delete_expired");
    assert!(purged >= 1, "a record with unreadable deadlines is purged");
    assert!(store.load(&key).await.expect("load").is_none());

    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record).await.expect("create");
    let meta: String = raw
        .query(redis::cmd("HGET").arg(keys.record(&key)).arg("m"))
        .await;
    let bad_id = format!("{}not an id, nope!!!!!!{}", &meta[..64], &meta[86..]);
    let _: i64 = raw
        .query(
            redis::cmd("HSET")
                .arg(keys.record(&key))
                .arg("m")
                .arg(bad_id),
        )
        .await;
    let got = store.load(&key).await;
    assert!(
        matches!(got, Err(StoreError::Corrupt(_))),
        "bad id: {got:?}"
    );
    let _: i64 = raw.query(redis::cmd("DEL").arg(keys.record(&key))).await;
}

/// Load after every node closed the store's connections: the next call, or the one after,
/// works again.
pub async fn recovers(store: &RedisStore, kill: impl AsyncFnOnce()) {
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    kill().await;
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let outcome = store.load(&key).await;
        let ok = matches!(&outcome, Ok(Some(r)) if r.id == record.id);
        outcomes.push(outcome.map(|r| r.map(|r| r.id)));
        if ok {
            break;
        }
    }
    assert!(
        matches!(outcomes.last(), Some(Ok(Some(_)))),
        "the store works again within two calls after the connection dropped: {outcomes:?}"
    );
    for outcome in &outcomes[..outcomes.len() - 1] {
        assert!(
            matches!(outcome, Err(StoreError::Backend(_))),
            "a dropped connection is a backend error: {outcome:?}"
        );
    }
    assert!(store
        .update(&key, &set("after", Some(raw_json(&1))))
        .await
        .expect("update"));
    assert!(store.delete(&key).await.expect("delete"));
}
