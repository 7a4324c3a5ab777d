//! What the near-cache tests share: two store instances over the same keys (A without a
//! cache, B with one), the race of B's reads against A's deletes, and a record's key.
// Each test binary uses a different subset.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use sessionward::store::conformance::sample;
use sessionward::store::{NearCache, RedisStore, SessionStore};
use sessionward::token::TokenHash;
use tokio::sync::Barrier;

/// B's staleness bound: wide enough that a loaded machine keeps the heartbeat inside it,
/// short enough to run quickly.
pub const BOUND: Duration = Duration::from_millis(200);

/// B: a store over `b` under `prefix`, with a near cache of [`BOUND`].
pub async fn with_near_cache(b: RedisStore, prefix: &str) -> RedisStore {
    b.with_prefix(prefix)
        .with_near_cache(NearCache::new(BOUND))
        .await
        .unwrap()
}

/// B's reads and A's deletes released together by a barrier, `n` times, half with B
/// holding a copy, half with B's read being the miss that races the invalidation. After
/// one round trip on B's tracking connection, B must never serve the deleted session.
pub async fn reads_racing_deletes(a: RedisStore, b: RedisStore, n: usize) {
    let (a, b) = (Arc::new(a), Arc::new(b));
    let barrier = Arc::new(Barrier::new(2));
    for i in 0..n {
        let (key, record) = sample(None, Duration::ZERO);
        a.create(&key, record).await.unwrap();
        if i % 2 == 0 {
            assert!(b.load(&key).await.unwrap().is_some());
        }
        let reader = {
            let (b, barrier) = (Arc::clone(&b), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                b.load(&key).await.unwrap().is_some()
            })
        };
        barrier.wait().await;
        assert!(a.delete(&key).await.unwrap());
        reader.await.unwrap();
        b.sync_near_cache().await;
        assert!(
            b.load(&key).await.unwrap().is_none(),
            "iteration {i}: B served a session deleted before its last round trip"
        );
    }
    println!("race: {:?}", b.near_cache_stats().unwrap());
}

/// The Redis key of the record stored under `key` (the store's key layout).
pub fn record_key(store: &RedisStore, key: &TokenHash) -> String {
    format!("{}{{{}}}:s", store.prefix(), key.to_hex())
}
