//! The Redis store against real servers: the standalone Redis named by
//! `SESSIONWARD_TEST_REDIS` and a three-master Redis Cluster started by the test
//! (`SESSIONWARD_TEST_REDIS_CLUSTER`). See `redis_support` for the gating rules.

#[allow(dead_code)] // uses most, not all, of the helpers
mod redis_support;

use std::time::{Duration, SystemTime};

use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::FromRedisValue;
use serde_json::value::{to_raw_value, RawValue};
use sessionward::store::conformance::{self, sample, unique_user};
use sessionward::store::{RedisStore, SessionPatch, SessionQuery, SessionState, SessionStore};
use sessionward::token::{SessionId, TokenHash};
use sessionward::StoreError;
use tokio::sync::{RwLock, RwLockReadGuard};

use redis_support::{cluster_ports, standalone_url, unique_prefix, Cluster};

/// Tests on the shared standalone server hold this for reading; the one that kills every
/// client connection holds it for writing, so it never breaks another test's connection.
static SERVER: RwLock<()> = RwLock::const_new(());

async fn shared() -> RwLockReadGuard<'static, ()> {
    SERVER.read().await
}

/// A plain connection to the same Redis, to look at keys and TTLs behind the store's back.
#[derive(Clone)]
enum Raw {
    Standalone(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Raw {
    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let result = match self.clone() {
            Self::Standalone(mut c) => cmd.query_async(&mut c).await,
            Self::Cluster(mut c) => cmd.query_async(&mut c).await,
        };
        result.unwrap_or_else(|err| panic!("raw Redis command failed: {err}"))
    }

    async fn pttl(&self, key: &str) -> i64 {
        self.query(redis::cmd("PTTL").arg(key)).await
    }

    async fn zscore(&self, key: &str, id: &SessionId) -> Option<f64> {
        self.query(redis::cmd("ZSCORE").arg(key).arg(id.to_string()))
            .await
    }

    /// The server's clock, in ms since the epoch.
    async fn server_ms(&self) -> i64 {
        let (secs, micros): (i64, i64) = self.query(&redis::cmd("TIME")).await;
        secs * 1000 + micros / 1000
    }

    async fn exists(&self, key: &str) -> bool {
        self.query::<i64>(redis::cmd("EXISTS").arg(key)).await == 1
    }
}

/// The documented key layout, rebuilt independently of the store.
struct Layout(String);

impl Layout {
    fn of(store: &RedisStore) -> Self {
        Self(store.prefix().to_owned())
    }
    fn record(&self, key: &TokenHash) -> String {
        format!("{}{{{}}}:s", self.0, key.to_hex())
    }
    fn id(&self, id: &SessionId) -> String {
        format!("{}{{{id}}}:i", self.0)
    }
    fn user(&self, user: &str) -> String {
        format!("{}{{u:{user}}}:sessions", self.0)
    }
}

async fn standalone(tag: &str) -> Option<(RedisStore, Raw)> {
    let url = standalone_url()?;
    let store = RedisStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot reach the Redis at {url}: {err}"))
        .with_prefix(unique_prefix(tag));
    let raw = redis::Client::open(url.as_str())
        .expect("Redis URL")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|err| panic!("cannot reach the Redis at {url}: {err}"));
    Some((store, Raw::Standalone(raw)))
}

/// Deletes every key under the store's prefix (they would expire anyway).
async fn clean_up(store: &RedisStore, raw: &Raw) {
    let pattern = format!("{}*", store.prefix());
    let keys: Vec<String> = raw.query(redis::cmd("KEYS").arg(&pattern)).await;
    for key in keys {
        let _: i64 = raw.query(redis::cmd("DEL").arg(key)).await;
    }
}

fn raw_json<T: serde::Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    to_raw_value(value).expect("serializable")
}

fn set(key: &str, value: Option<Box<RawValue>>) -> SessionPatch {
    SessionPatch {
        data: vec![(key.to_owned(), value)],
        ..SessionPatch::default()
    }
}

fn assert_ttl(what: &str, got: i64, want: Duration) {
    let want = want.as_millis() as i64;
    // A few seconds of slack for a slow machine, never more than asked.
    assert!(
        got <= want && got > want - 5_000,
        "{what}: PTTL {got} ms, want about {want} ms"
    );
}

// ---------------------------------------------------------------------------------------------
// Checks shared by the standalone and the cluster suites.
// ---------------------------------------------------------------------------------------------

/// Every key of a session gets a TTL that follows its deadline, up and down.
async fn ttls_follow_deadlines(store: &RedisStore, raw: &Raw) {
    let keys = Layout::of(store);
    let user = unique_user("ttl");
    let (key, record) = sample(Some(&user), Duration::ZERO);
    let now = SystemTime::now();
    store.create(&key, record.clone()).await.expect("create");
    let (rec_key, id_key) = (keys.record(&key), keys.id(&record.id));
    // `sample` sets the idle deadline 10 minutes and the absolute one an hour ahead.
    let idle = Duration::from_secs(600);
    assert_ttl("record after create", raw.pttl(&rec_key).await, idle);
    let id_ttl = raw.pttl(&id_key).await;
    assert!(
        id_ttl >= 3_590_000,
        "the id index outlives the absolute deadline, PTTL {id_ttl}"
    );
    let user_ttl = raw.pttl(&keys.user(&user)).await;
    assert!(
        user_ttl >= 3_590_000,
        "the user index outlives the absolute deadline, PTTL {user_ttl}"
    );

    for ahead in [1200, 100] {
        let patch = SessionPatch {
            last_seen_at: Some(now),
            idle_expires_at: Some(now + Duration::from_secs(ahead)),
            ..SessionPatch::default()
        };
        assert!(store.update(&key, &patch).await.expect("update"));
        let want = Duration::from_secs(ahead);
        assert_ttl("record after renewal", raw.pttl(&rec_key).await, want);
        assert!(
            raw.pttl(&id_key).await >= 3_590_000,
            "a renewal leaves the id index covering the absolute deadline"
        );
    }
    // A data-only update leaves the TTL where the deadline put it.
    assert!(store
        .update(&key, &set("k", Some(raw_json(&1))))
        .await
        .expect("update"));
    assert_ttl(
        "record after a data update",
        raw.pttl(&rec_key).await,
        Duration::from_secs(100),
    );

    // Rotation: the record moves to the new token hash with its TTL; the id index follows.
    let (new_key, _) = sample(None, Duration::ZERO);
    let patch = SessionPatch {
        idle_expires_at: Some(now + Duration::from_secs(900)),
        ..SessionPatch::default()
    };
    assert!(store.rotate(&key, &new_key, &patch).await.expect("rotate"));
    let want = Duration::from_secs(900);
    assert_ttl(
        "record after rotate",
        raw.pttl(&keys.record(&new_key)).await,
        want,
    );
    assert_eq!(
        raw.pttl(&rec_key).await,
        -2,
        "nothing left under the old token"
    );
    let named: String = raw.query(redis::cmd("GET").arg(&id_key)).await;
    assert_eq!(named, new_key.to_hex(), "the id index names the new token");

    // A login moves the session to another user with a new absolute deadline.
    let other = unique_user("ttl-login");
    let (login_key, _) = sample(None, Duration::ZERO);
    let patch = SessionPatch {
        user: Some(Some(other.clone())),
        expires_at: Some(now + Duration::from_secs(7200)),
        idle_expires_at: Some(now + Duration::from_secs(1800)),
        ..SessionPatch::default()
    };
    assert!(store
        .rotate(&new_key, &login_key, &patch)
        .await
        .expect("rotate"));
    assert_ttl(
        "record after login",
        raw.pttl(&keys.record(&login_key)).await,
        Duration::from_secs(1800),
    );
    let id_ttl = raw.pttl(&id_key).await;
    assert!(
        id_ttl >= 7_190_000,
        "the id index outlives the new absolute deadline, PTTL {id_ttl}"
    );
    let other_ttl = raw.pttl(&keys.user(&other)).await;
    assert!(
        other_ttl >= 7_190_000,
        "the new user's index outlives the new absolute deadline, PTTL {other_ttl}"
    );

    // Created already past its deadline: kept briefly, to be listed as expired and purged.
    let (past_key, mut past) = sample(None, Duration::from_secs(60));
    past.idle_expires_at = now - Duration::from_secs(1);
    store.create(&past_key, past.clone()).await.expect("create");
    let ttl = raw.pttl(&keys.record(&past_key)).await;
    assert!(
        ttl > 0 && ttl <= RedisStore::EXPIRED_RETENTION.as_millis() as i64,
        "a session created past its deadline expires within the retention, PTTL {ttl}"
    );
    assert!(
        raw.pttl(&keys.id(&past.id)).await > ttl,
        "its id index outlives it"
    );
    assert!(store.delete(&login_key).await.expect("delete"));
    assert!(store.delete(&past_key).await.expect("delete"));
}

/// Concurrent rotations of one token: exactly one wins, and exactly one token works after.
async fn rotate_leaves_one_working_token(store: &RedisStore, raw: &Raw) {
    let keys = Layout::of(store);
    let (old, record) = sample(None, Duration::ZERO);
    store.create(&old, record.clone()).await.expect("create");
    let targets: Vec<TokenHash> = (0..8).map(|_| sample(None, Duration::ZERO).0).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for target in targets.clone() {
        let store = store.clone();
        tasks.spawn(async move {
            let patch = set("rotated", Some(raw_json(&true)));
            (target, store.rotate(&old, &target, &patch).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (target, result) = joined.expect("task");
        if result.expect("rotate") {
            winners.push(target);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one concurrent rotation wins");
    let winner = winners[0];
    let named: String = raw.query(redis::cmd("GET").arg(keys.id(&record.id))).await;
    assert_eq!(
        named,
        winner.to_hex(),
        "the id index names the winning token"
    );
    assert!(
        store.load(&old).await.expect("load").is_none(),
        "old token dead"
    );
    for target in &targets {
        let loaded = store.load(target).await.expect("load");
        if *target == winner {
            let got = loaded.expect("the winning token loads");
            assert_eq!(got.id, record.id, "same session");
            assert!(got.data.get_raw("rotated").is_some(), "patch applied");
        } else {
            assert!(loaded.is_none(), "a losing rotation's token does not load");
            assert!(
                !raw.exists(&keys.record(target)).await,
                "a losing rotation leaves nothing behind"
            );
        }
    }
    let late = set("late", Some(raw_json(&1)));
    assert!(
        !store.update(&old, &late).await.expect("update"),
        "an update through the old token writes nothing"
    );
    assert!(
        !store.delete(&old).await.expect("delete"),
        "old token cannot delete"
    );
    assert!(store.update(&winner, &late).await.expect("update"));
    assert!(store.delete_by_id(&record.id).await.expect("delete_by_id"));
    assert!(store.load(&winner).await.expect("load").is_none());
    let (target, _) = sample(None, Duration::ZERO);
    assert!(
        !store
            .rotate(&winner, &target, &SessionPatch::default())
            .await
            .expect("rotate"),
        "a deleted session cannot be rotated back to life"
    );
    assert!(store.load(&target).await.expect("load").is_none());
}

/// A revocation racing a rotation of the same session always wins: whichever step of the
/// rotation it lands between, afterwards neither the old nor the new token loads.
async fn revocation_beats_a_concurrent_rotation(store: &RedisStore) {
    for _ in 0..30 {
        let (old, record) = sample(None, Duration::ZERO);
        store.create(&old, record.clone()).await.expect("create");
        let (new, _) = sample(None, Duration::ZERO);
        let rotating = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .rotate(&old, &new, &set("moved", Some(raw_json(&true))))
                    .await
            })
        };
        let revoked = store.delete_by_id(&record.id).await.expect("delete_by_id");
        let rotated = rotating.await.expect("task").expect("rotate");
        assert!(
            revoked || !rotated,
            "the revocation found the session, or the rotation had already lost it"
        );
        assert!(
            store.load(&old).await.expect("load").is_none(),
            "old token dead"
        );
        assert!(
            store.load(&new).await.expect("load").is_none(),
            "a revoked session does not survive under its new token (rotated: {rotated})"
        );
    }
}

/// 32 concurrent requests setting different keys (half also renewing) all keep their key.
async fn concurrent_updates_all_persist(store: &RedisStore) {
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
async fn odd_keys_round_trip(store: &RedisStore) {
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
async fn query_lists_every_session(store: &RedisStore) {
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

/// `delete_expired` removes expired records and their index entries, and keeps the rest; a
/// record Redis expired by itself is neither listed nor counted.
async fn delete_expired_cleans_indexes(store: &RedisStore, raw: &Raw) {
    let keys = Layout::of(store);
    let user = unique_user("purge");
    let now = SystemTime::now();
    let (expired_key, mut expired) = sample(Some(&user), Duration::from_secs(30));
    expired.expires_at = now - Duration::from_secs(1);
    store
        .create(&expired_key, expired.clone())
        .await
        .expect("create");
    let (live_key, live) = sample(Some(&user), Duration::ZERO);
    store.create(&live_key, live.clone()).await.expect("create");
    let (gone_key, gone) = sample(Some(&user), Duration::ZERO);
    store.create(&gone_key, gone.clone()).await.expect("create");
    // As if Redis had expired it: the record goes, the indexes stay behind.
    let _: i64 = raw
        .query(redis::cmd("DEL").arg(keys.record(&gone_key)))
        .await;
    assert!(store.load(&gone_key).await.expect("load").is_none());
    assert_eq!(store.count_by_user(&user, now).await.expect("count"), 1);
    assert!(
        raw.zscore(&keys.user(&user), &gone.id).await.is_some(),
        "an id indexed moments ago is kept (a create in flight indexes before it writes)"
    );
    // Ids of sessions long gone, indexed eleven minutes ago by the server's clock.
    let long_ago = raw.server_ms().await - 11 * 60 * 1000;
    let (ghost, later_ghost) = (
        sample(None, Duration::ZERO).1.id,
        sample(None, Duration::ZERO).1.id,
    );
    for id in [ghost, later_ghost] {
        let _: i64 = raw
            .query(
                redis::cmd("ZADD")
                    .arg(keys.user(&user))
                    .arg(long_ago)
                    .arg(id.to_string()),
            )
            .await;
    }
    assert_eq!(store.list_by_user(&user, now).await.expect("list").len(), 1);
    assert!(
        raw.zscore(&keys.user(&user), &ghost).await.is_none()
            && raw.zscore(&keys.user(&user), &later_ghost).await.is_none(),
        "listing prunes ids long gone"
    );
    let _: i64 = raw
        .query(
            redis::cmd("ZADD")
                .arg(keys.user(&user))
                .arg(long_ago)
                .arg(ghost.to_string()),
        )
        .await;

    let purged = store.delete_expired(now).await.expect("delete_expired");
    assert!(purged >= 1, "the expired session is purged, got {purged}");
    assert!(!raw.exists(&keys.record(&expired_key)).await);
    assert!(!raw.exists(&keys.id(&expired.id)).await);
    let score: Option<f64> = raw
        .query(
            redis::cmd("ZSCORE")
                .arg(keys.user(&user))
                .arg(expired.id.to_string()),
        )
        .await;
    assert!(score.is_none(), "the purged id left the user index");
    assert!(
        raw.zscore(&keys.user(&user), &ghost).await.is_none(),
        "delete_expired prunes ids long gone"
    );
    assert!(raw.zscore(&keys.user(&user), &gone.id).await.is_some());
    assert!(store.load(&live_key).await.expect("load").is_some());
    let listed = store.list_by_user(&user, now).await.expect("list");
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![live.id]
    );
    assert_eq!(store.delete_by_user(&user, None).await.expect("delete"), 1);
}

/// Undecodable data is `Corrupt`, never a panic; `delete_expired` purges a record whose
/// deadlines cannot be read.
async fn corrupt_data_is_an_error(store: &RedisStore, raw: &Raw) {
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
async fn recovers(store: &RedisStore, kill: impl AsyncFnOnce()) {
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

// ---------------------------------------------------------------------------------------------
// Standalone Redis.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_passes_the_conformance_suite_twice() {
    let _shared = shared().await;
    let Some((store, raw)) = standalone("conformance").await else {
        return;
    };
    conformance::run(&store).await;
    conformance::run(&store).await;
    clean_up(&store, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_ttls_follow_deadlines() {
    let _shared = shared().await;
    let Some((store, raw)) = standalone("ttl").await else {
        return;
    };
    ttls_follow_deadlines(&store, &raw).await;
    clean_up(&store, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_rotate_leaves_one_working_token() {
    let _shared = shared().await;
    let Some((store, raw)) = standalone("rotate").await else {
        return;
    };
    rotate_leaves_one_working_token(&store, &raw).await;
    revocation_beats_a_concurrent_rotation(&store).await;
    clean_up(&store, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_concurrent_updates_of_different_keys_all_persist() {
    let _shared = shared().await;
    let Some((store, raw)) = standalone("concurrent").await else {
        return;
    };
    concurrent_updates_all_persist(&store).await;
    clean_up(&store, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_odd_keys_round_trip() {
    let _shared = shared().await;
    let Some((store, raw)) = standalone("odd").await else {
        return;
    };
    odd_keys_round_trip(&store).await;
    clean_up(&store, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_query_lists_every_session_of_its_prefix() {
    let _shared = shared().await;
    let Some((store, raw)) = standalone("query").await else {
        return;
    };
    query_lists_every_session(&store).await;
    clean_up(&store, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_delete_expired_cleans_indexes() {
    let _shared = shared().await;
    let Some((store, raw)) = standalone("purge").await else {
        return;
    };
    delete_expired_cleans_indexes(&store, &raw).await;
    clean_up(&store, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_corrupt_data_is_an_error() {
    let _shared = shared().await;
    let Some((store, raw)) = standalone("corrupt").await else {
        return;
    };
    corrupt_data_is_an_error(&store, &raw).await;
    clean_up(&store, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_recovers_after_the_connection_drops() {
    // Killing every client would break the other tests' connections: run alone.
    let _alone = SERVER.write().await;
    let Some((store, raw)) = standalone("reconnect").await else {
        return;
    };
    let killer = raw.clone();
    recovers(&store, async move || {
        // SKIPME defaults to yes: the killing connection survives.
        let killed: i64 = killer
            .query(redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal"))
            .await;
        assert!(killed >= 1, "the store's connection was killed");
    })
    .await;
    clean_up(&store, &raw).await;
}

#[tokio::test]
async fn unreachable_server_is_a_backend_error() {
    // Needs no server: nothing listens on port 1.
    let started = std::time::Instant::now();
    let err = RedisStore::connect("redis://127.0.0.1:1")
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a down server fails fast"
    );
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    let err = RedisStore::connect("not a url").await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    let err = RedisStore::connect_cluster(&["redis://127.0.0.1:1"])
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}

#[test]
#[should_panic(expected = "braces")]
fn a_prefix_with_braces_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Building a store needs a connection object, not a server: a lazy manager connects on
    // first use.
    let client = redis::Client::open("redis://127.0.0.1:1").expect("URL");
    let manager = runtime.block_on(async {
        redis::aio::ConnectionManager::new_lazy_with_config(
            client,
            redis::aio::ConnectionManagerConfig::new(),
        )
        .expect("lazy manager")
    });
    let _ = RedisStore::from_manager(manager).with_prefix("app:{tag}:");
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster: three masters started by this test, stopped when it ends (pass or fail).
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_suite() {
    let Some(ports) = cluster_ports() else {
        return;
    };
    let cluster = Cluster::start(ports);
    let urls = cluster.urls();
    let store = RedisStore::connect_cluster(&urls)
        .await
        .unwrap_or_else(|err| panic!("cannot reach the cluster at {urls:?}: {err}"))
        .with_prefix(unique_prefix("cluster"));
    assert!(store.is_cluster());
    let raw = Raw::Cluster(
        redis::cluster::ClusterClient::new(urls.clone())
            .expect("cluster URLs")
            .get_async_connection()
            .await
            .expect("raw cluster connection"),
    );

    conformance::run(&store).await;
    conformance::run(&store).await;
    ttls_follow_deadlines(&store, &raw).await;
    rotate_leaves_one_working_token(&store, &raw).await;
    revocation_beats_a_concurrent_rotation(&store).await;
    concurrent_updates_all_persist(&store).await;
    odd_keys_round_trip(&store).await;
    delete_expired_cleans_indexes(&store, &raw).await;
    corrupt_data_is_an_error(&store, &raw).await;

    // The listing must gather sessions from every master: check they are really spread.
    let user = unique_user("spread");
    for _ in 0..30 {
        let (key, record) = sample(Some(&user), Duration::ZERO);
        store.create(&key, record).await.expect("create");
    }
    for &port in cluster.ports() {
        let keys = cluster.cli(port, &["dbsize"]);
        let n: u64 = keys.trim().parse().unwrap_or(0);
        assert!(n > 0, "node {port} holds some of the sessions ({keys:?})");
    }
    assert_eq!(store.delete_by_user(&user, None).await.expect("delete"), 30);
    query_lists_every_session(&store).await;

    let ports = cluster.ports().to_vec();
    recovers(&store, async move || {
        for port in ports {
            let out = std::process::Command::new("redis-cli")
                .args(["-p", &port.to_string(), "client", "kill", "type", "normal"])
                .output()
                .expect("redis-cli");
            assert!(out.status.success());
        }
    })
    .await;
    drop(cluster);
}
