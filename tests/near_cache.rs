//! The Redis store's near cache against a real Redis: two store instances, A without a cache
//! and B with one, over the same keys. What a user relies on: a logout or revocation through A
//! is refused by B within the staleness bound, whatever order the messages arrive in, after a
//! killed connection, and through a connection that silently stops delivering.

mod common;
mod near_cache_support;
#[allow(dead_code)] // the suites use different parts
#[path = "redis_support/mod.rs"]
mod redis_support;
mod servers;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::faults::relay::Relay;
use common::wait::eventually;
use near_cache_support::{with_near_cache, BOUND};
use servers::trial;
use sessionward::store::conformance::sample;
use sessionward::store::{RedisStore, SessionPatch, SessionStore};

/// A (no cache) and B (near cache) on the standalone server, same prefix.
async fn pair(tag: &str) -> (RedisStore, RedisStore) {
    let url = redis_support::standalone_url();
    let prefix = redis_support::unique_prefix(tag);
    let a = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix);
    let b = with_near_cache(RedisStore::connect(&url).await.unwrap(), &prefix).await;
    (a, b)
}

/// B serves its copy only until the first PONG: wait for the cache to be serving.
async fn serving(b: &RedisStore) {
    b.sync_near_cache().await;
}

async fn hits_are_served_and_writes_seen() {
    let (a, b) = pair("near-basic").await;
    serving(&b).await;
    let (key, record) = sample(Some("alice"), Duration::ZERO);
    a.create(&key, record).await.unwrap();
    let before = b.near_cache_stats().unwrap();
    assert!(b.load(&key).await.unwrap().is_some());
    for _ in 0..10 {
        assert!(b.load(&key).await.unwrap().is_some());
    }
    let after = b.near_cache_stats().unwrap();
    assert_eq!(after.misses - before.misses, 1, "{after:?}");
    assert_eq!(after.hits - before.hits, 10, "{after:?}");

    // A's write is seen by B once B has synced (a round trip after the write).
    let patch = SessionPatch {
        user: Some(Some("bob".into())),
        ..SessionPatch::default()
    };
    assert!(a.update(&key, &patch).await.unwrap());
    b.sync_near_cache().await;
    let seen = b.load(&key).await.unwrap().unwrap();
    assert_eq!(seen.user.as_deref(), Some("bob"));

    // B's own write evicts its copy at once, before Redis's invalidation arrives.
    let patch = SessionPatch {
        user: Some(Some("carol".into())),
        ..SessionPatch::default()
    };
    assert!(b.update(&key, &patch).await.unwrap());
    assert_eq!(
        b.load(&key).await.unwrap().unwrap().user.as_deref(),
        Some("carol")
    );

    // A missing session is never cached: every read of an unknown token goes to Redis.
    let (unknown, _) = sample(None, Duration::ZERO);
    let before = b.near_cache_stats().unwrap();
    for _ in 0..3 {
        assert!(b.load(&unknown).await.unwrap().is_none());
    }
    let after = b.near_cache_stats().unwrap();
    assert_eq!(after.misses - before.misses, 3);
    assert_eq!(after.entries, before.entries);

    // FLUSHDB, even of another database, is a null invalidation: every copy goes. (The
    // trials run one at a time, so no other test's copies go with them.)
    assert!(b.load(&key).await.unwrap().is_some());
    assert!(b.near_cache_stats().unwrap().entries > 0);
    let client = redis::Client::open(format!("{}/15", redis_support::standalone_url())).unwrap();
    let mut other_db = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("FLUSHDB")
        .query_async::<()>(&mut other_db)
        .await
        .unwrap();
    b.sync_near_cache().await;
    assert_eq!(b.near_cache_stats().unwrap().entries, 0);
    let misses = b.near_cache_stats().unwrap().misses;
    assert!(
        b.load(&key).await.unwrap().is_some(),
        "the session itself is untouched"
    );
    assert_eq!(b.near_cache_stats().unwrap().misses, misses + 1);
    a.delete(&key).await.unwrap();
}

/// (a) The window: log out on A and poll B; over 1,000 sessions, the delay until B refuses.
async fn window_percentiles() {
    let (a, b) = pair("near-window").await;
    serving(&b).await;
    let mut delays = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let (key, record) = sample(Some("alice"), Duration::ZERO);
        a.create(&key, record).await.unwrap();
        assert!(b.load(&key).await.unwrap().is_some());
        assert!(a.delete(&key).await.unwrap());
        let deleted = Instant::now();
        while b.load(&key).await.unwrap().is_some() {
            assert!(
                deleted.elapsed() <= BOUND * 5,
                "B still serves a deleted session after {:?}",
                deleted.elapsed()
            );
        }
        delays.push(deleted.elapsed());
    }
    delays.sort();
    let (p50, p99, max) = (delays[499], delays[989], delays[999]);
    println!("near cache window over 1000 logouts: p50 {p50:?}, p99 {p99:?}, max {max:?}, bound {BOUND:?}");
    assert!(p99 <= BOUND, "p99 {p99:?} over the bound {BOUND:?}");
    let stats = b.near_cache_stats().unwrap();
    println!("near cache stats after the window run: {stats:?}");
}

/// (b) The race: B's read and A's delete released together by a barrier, 10,000 times, half
/// with B holding a copy, half with B's read being the miss that races the invalidation.
/// After one round trip on B's tracking connection, B never serves the deleted session.
async fn reads_racing_deletes() {
    let (a, b) = pair("near-race").await;
    serving(&b).await;
    near_cache_support::reads_racing_deletes(a, b, 10_000).await;
}

/// (c) `CLIENT KILL` of B's tracking connection, then a delete through A: B refuses, and
/// caches again once it has reconnected.
async fn killed_tracking_connection() {
    let (a, b) = pair("near-kill").await;
    serving(&b).await;
    let (key, record) = sample(None, Duration::ZERO);
    a.create(&key, record).await.unwrap();
    assert!(b.load(&key).await.unwrap().is_some());
    let connects = b.near_cache_stats().unwrap().connects;
    let killed = kill_tracking(&b).await;
    assert_eq!(killed, 1, "B's tracking connection is found by name");
    assert!(a.delete(&key).await.unwrap());
    b.sync_near_cache().await;
    assert!(
        b.load(&key).await.unwrap().is_none(),
        "B refuses after the kill"
    );
    eventually("B reconnects its tracking connection", || async {
        b.near_cache_stats().unwrap().connects > connects
    })
    .await;
    let (key, record) = sample(None, Duration::ZERO);
    a.create(&key, record).await.unwrap();
    serving(&b).await;
    assert!(b.load(&key).await.unwrap().is_some());
    let hits = b.near_cache_stats().unwrap().hits;
    assert!(b.load(&key).await.unwrap().is_some());
    assert_eq!(b.near_cache_stats().unwrap().hits, hits + 1, "cached again");
    a.delete(&key).await.unwrap();
}

/// Kills the tracking connections named after `b`'s prefix; returns how many.
async fn kill_tracking(b: &RedisStore) -> usize {
    let client = redis::Client::open(redis_support::standalone_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    let name = format!("name={}", b.near_cache_client_name().unwrap());
    let mut killed = 0;
    for line in list
        .lines()
        .filter(|line| line.split(' ').any(|f| f == name))
    {
        let id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap();
        let n: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut conn)
            .await
            .unwrap();
        killed += n as usize;
    }
    killed
}

/// (d) A relay in front of B that stops forwarding without closing: B serves no copy later
/// than the bound after the stall began.
async fn silent_partition() {
    let url = redis_support::standalone_url();
    let prefix = redis_support::unique_prefix("near-stall");
    let (relay, relayed) = Relay::to(&url, 6379).await;
    let a = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix);
    let b = with_near_cache(RedisStore::connect(&relayed).await.unwrap(), &prefix).await;
    serving(&b).await;
    let (key, record) = sample(None, Duration::ZERO);
    a.create(&key, record).await.unwrap();
    assert!(b.load(&key).await.unwrap().is_some());
    relay.stall();
    let stalled = Instant::now();
    // The session ends on A; B, cut off, must stop serving its copy within the bound.
    assert!(a.delete(&key).await.unwrap());
    let mut last_hit = None;
    loop {
        let started = Instant::now();
        let hits = b.near_cache_stats().unwrap().hits;
        let answer = b.load(&key).await;
        if b.near_cache_stats().unwrap().hits > hits {
            last_hit = Some(started - stalled);
            assert!(
                started <= stalled + BOUND,
                "a copy served {:?} after the stall began (bound {BOUND:?})",
                started - stalled
            );
            continue;
        }
        // Not a hit: the read went to Redis through the stalled relay and fails.
        assert!(
            answer.is_err(),
            "a stalled connection cannot answer: {answer:?}"
        );
        break;
    }
    println!("stall: last copy served {last_hit:?} after the stall began (bound {BOUND:?})");
}

fn main() -> ExitCode {
    // One at a time: a FLUSHDB or a killed connection in one trial must not empty another's
    // cache while it counts hits.
    servers::run_one_at_a_time([
        trial!(Redis: hits_are_served_and_writes_seen),
        trial!(Redis: window_percentiles),
        trial!(Redis: reads_racing_deletes),
        trial!(Redis: killed_tracking_connection),
        trial!(Redis: silent_partition),
    ])
}
