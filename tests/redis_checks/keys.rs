//! Keys, TTLs and indexes: what the store writes follows the documented layout.

use std::time::{Duration, SystemTime};

use sessionward::store::conformance::{sample, unique_user};
use sessionward::store::{RedisStore, SessionPatch, SessionStore};
use sessionward::token::TokenHash;

use super::{assert_outlives, assert_ttl, raw_json, set, Layout, Raw};

// Every key of a session gets a TTL that follows its deadline, up and down.
pub async fn ttls_follow_deadlines(store: &RedisStore, raw: &Raw) {
    let keys = Layout::of(store);
    let user = unique_user("ttl");
    let (key, record) = sample(Some(&user), Duration::ZERO);
    let now = SystemTime::now();
    store.create(&key, record.clone()).await.expect("create");
    let (rec_key, id_key) = (keys.record(&key), keys.id(&record.id));
    // `sample` sets the idle deadline 10 minutes and the absolute one an hour ahead.
    let idle = Duration::from_secs(600);
    assert_ttl("record after create", raw.pttl(&rec_key).await, idle);
    assert_outlives(
        "the id index",
        raw.pttl(&id_key).await,
        Duration::from_secs(3600),
    );
    assert_outlives(
        "the user index",
        raw.pttl(&keys.user(&user)).await,
        Duration::from_secs(3600),
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
    assert_outlives(
        "the id index",
        raw.pttl(&id_key).await,
        Duration::from_secs(7200),
    );
    assert_outlives(
        "the new user's index",
        raw.pttl(&keys.user(&other)).await,
        Duration::from_secs(7200),
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
pub async fn rotate_leaves_one_working_token(store: &RedisStore, raw: &Raw) {
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
pub async fn revocation_beats_a_concurrent_rotation(store: &RedisStore) {
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

/// `delete_expired` removes expired records and their index entries, and keeps the rest; a
/// record Redis expired by itself is neither listed nor counted.
pub async fn delete_expired_cleans_indexes(store: &RedisStore, raw: &Raw) {
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
