//! The background cleanup task works with the Redis store too (standalone and Cluster): expired
//! sessions still present are purged, live ones kept. (The SQL stores' suites test the same.)

mod common;
#[allow(dead_code)] // the suites use different parts
#[path = "redis_support/mod.rs"]
mod redis_support;
mod servers;

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use common::wait::eventually;
use common::FlakyStore;
use servers::trial;
use sessionward::store::conformance::sample;
use sessionward::store::{spawn_cleanup, RedisStore, SessionQuery, SessionState, SessionStore};

async fn purges_expired_keeps_live(store: RedisStore) {
    let now = SystemTime::now();
    let (live_key, live) = sample(None, Duration::ZERO);
    store.create(&live_key, live).await.unwrap();
    let mut expired = Vec::new();
    for _ in 0..3 {
        let (key, mut record) = sample(None, Duration::from_secs(60));
        record.idle_expires_at = now - Duration::from_secs(1);
        store.create(&key, record).await.unwrap();
        expired.push(key);
    }
    let listed = |state| SessionQuery {
        state,
        user: None,
        now: SystemTime::now(),
        offset: 0,
        limit: usize::MAX,
    };
    assert_eq!(
        store
            .query(&listed(SessionState::Expired))
            .await
            .unwrap()
            .len(),
        3
    );

    // The wrapper counts the task's passes.
    let passes = FlakyStore::wrap(store.clone());
    let cleanup = spawn_cleanup(passes.clone(), Duration::from_millis(20));
    let none_expired = || async {
        store
            .query(&listed(SessionState::Expired))
            .await
            .unwrap()
            .is_empty()
    };
    eventually("the task purges every expired session", none_expired).await;
    // A pass is over once the next one starts (the task runs them one after another): the
    // live session also outlasts a full pass after the purge.
    let seen = passes.calls();
    eventually("the task runs another full pass", || async {
        passes.calls() >= seen + 2
    })
    .await;
    cleanup.abort();
    for key in &expired {
        assert!(store.load(key).await.unwrap().is_none());
    }
    assert!(
        store.load(&live_key).await.unwrap().is_some(),
        "the live session is kept"
    );
    assert_eq!(
        store
            .query(&listed(SessionState::Active))
            .await
            .unwrap()
            .len(),
        1
    );
    store.delete(&live_key).await.unwrap();
}

async fn standalone() {
    let store = redis_support::standalone_store("cleanup").await;
    purges_expired_keeps_live(store).await;
}

async fn cluster() {
    let (_cluster, store) = redis_support::cluster_store("cleanup").await;
    purges_expired_keeps_live(store).await;
}

fn main() -> ExitCode {
    servers::run([trial!(Redis: standalone), trial!(RedisCluster: cluster)])
}
