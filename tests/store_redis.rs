//! The Redis store against real servers: the standalone Redis named by
//! `SESSIONWARD_TEST_REDIS` and a three-master Redis Cluster started by the test
//! (`SESSIONWARD_TEST_REDIS_CLUSTER`). Without its variable a suite's tests are reported as
//! ignored; under `CI=true` they run against the defaults (tests/README.md).

mod redis_checks;
#[allow(dead_code)] // uses most, not all, of the helpers
mod redis_support;
mod servers;

use std::process::ExitCode;
use std::time::Duration;

use sessionward::store::conformance::{self, sample, unique_user};
use sessionward::store::{NearCache, RedisStore, SessionStore};
use sessionward::StoreError;
use tokio::sync::{RwLock, RwLockReadGuard};

use redis_checks::data::{
    concurrent_updates_all_persist, corrupt_data_is_an_error, odd_keys_round_trip,
    query_lists_every_session, recovers,
};
use redis_checks::keys::{
    delete_expired_cleans_indexes, revocation_beats_a_concurrent_rotation,
    rotate_leaves_one_working_token, ttls_follow_deadlines,
};
use redis_checks::retention::{ended_records_keep_the_period, PERIOD};
use redis_checks::{clean_up, Raw};
use redis_support::{cluster_ports, standalone_url, unique_prefix, Cluster};
use servers::{expect_panic, trial};

/// Tests on the shared standalone server hold this for reading; the one that kills every
/// client connection holds it for writing, so it never breaks another test's connection.
static SERVER: RwLock<()> = RwLock::const_new(());

async fn shared() -> RwLockReadGuard<'static, ()> {
    SERVER.read().await
}

async fn standalone(tag: &str) -> (RedisStore, Raw) {
    let url = standalone_url();
    let store = RedisStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot reach the Redis at {url}: {err}"))
        .with_prefix(unique_prefix(tag));
    let raw = redis::Client::open(url.as_str())
        .expect("Redis URL")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|err| panic!("cannot reach the Redis at {url}: {err}"));
    (store, Raw::Standalone(raw))
}

// ---------------------------------------------------------------------------------------------
// Standalone Redis.
// ---------------------------------------------------------------------------------------------

async fn standalone_passes_the_conformance_suite_twice() {
    let _shared = shared().await;
    let (store, raw) = standalone("conformance").await;
    conformance::run(&store).await;
    // With retention, then without again on keys that hold ended sessions.
    conformance::run(&store.clone().with_retention(Duration::from_secs(86_400))).await;
    conformance::run(&store).await;
    clean_up(&store, &raw).await;
}

/// With a near cache every command goes through its RESP3 tracking connection, and reads of
/// sessions it holds are served from copies: the contract is the same.
async fn standalone_with_near_cache_passes_the_conformance_suite() {
    let _shared = shared().await;
    let (store, raw) = standalone("conformance-near").await;
    let store = store
        .with_near_cache(NearCache::new(Duration::from_millis(200)))
        .await
        .unwrap();
    store.sync_near_cache().await;
    conformance::run(&store).await;
    conformance::run(&store.clone().with_retention(Duration::from_secs(86_400))).await;
    conformance::run(&store).await;
    let stats = store.near_cache_stats().unwrap();
    assert!(
        stats.hits > 0,
        "the suite's reads were served from copies too: {stats:?}"
    );
    clean_up(&store, &raw).await;
}

async fn standalone_ended_records_keep_the_period() {
    let _shared = shared().await;
    let (store, raw) = standalone("kept").await;
    ended_records_keep_the_period(&store.clone().with_retention(PERIOD), &raw).await;
    clean_up(&store, &raw).await;
}

async fn standalone_ttls_follow_deadlines() {
    let _shared = shared().await;
    let (store, raw) = standalone("ttl").await;
    ttls_follow_deadlines(&store, &raw).await;
    clean_up(&store, &raw).await;
}

async fn standalone_rotate_leaves_one_working_token() {
    let _shared = shared().await;
    let (store, raw) = standalone("rotate").await;
    rotate_leaves_one_working_token(&store, &raw).await;
    revocation_beats_a_concurrent_rotation(&store).await;
    clean_up(&store, &raw).await;
}

async fn standalone_concurrent_updates_of_different_keys_all_persist() {
    let _shared = shared().await;
    let (store, raw) = standalone("concurrent").await;
    concurrent_updates_all_persist(&store).await;
    clean_up(&store, &raw).await;
}

async fn standalone_odd_keys_round_trip() {
    let _shared = shared().await;
    let (store, raw) = standalone("odd").await;
    odd_keys_round_trip(&store).await;
    clean_up(&store, &raw).await;
}

async fn standalone_query_lists_every_session_of_its_prefix() {
    let _shared = shared().await;
    let (store, raw) = standalone("query").await;
    query_lists_every_session(&store).await;
    clean_up(&store, &raw).await;
}

async fn standalone_delete_expired_cleans_indexes() {
    let _shared = shared().await;
    let (store, raw) = standalone("purge").await;
    delete_expired_cleans_indexes(&store, &raw).await;
    clean_up(&store, &raw).await;
}

async fn standalone_corrupt_data_is_an_error() {
    let _shared = shared().await;
    let (store, raw) = standalone("corrupt").await;
    corrupt_data_is_an_error(&store, &raw).await;
    clean_up(&store, &raw).await;
}

async fn standalone_recovers_after_the_connection_drops() {
    // Killing every client would break the other tests' connections: run alone.
    let _alone = SERVER.write().await;
    let (store, raw) = standalone("reconnect").await;
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

/// A server that lost its scripts (`SCRIPT FLUSH`, a restart without persistence) is given
/// them again by the first call that needs one: creating, updating and rotating go on working.
async fn standalone_runs_its_scripts_after_a_script_flush() {
    // Flushing the scripts would make other tests' calls reload them: run alone.
    let _alone = SERVER.write().await;
    let (store, raw) = standalone("noscript").await;
    let flush = || async { raw.query::<String>(redis::cmd("SCRIPT").arg("FLUSH")).await };
    let (key, record) = sample(None, Duration::ZERO);
    flush().await;
    store
        .create(&key, record.clone())
        .await
        .expect("create after a flush");
    flush().await;
    let seven = serde_json::value::RawValue::from_string("7".to_owned()).unwrap();
    let patch = sessionward::store::SessionPatch {
        data: vec![("n".to_owned(), Some(seven))],
        ..Default::default()
    };
    assert!(store
        .update(&key, &patch)
        .await
        .expect("update after a flush"));
    let loaded = store.load(&key).await.expect("load").expect("the session");
    assert_eq!(loaded.data.get_raw("n").map(|v| v.get()), Some("7"));
    flush().await;
    let (new, _) = sample(None, Duration::ZERO);
    assert!(store
        .rotate(&key, &new, &Default::default())
        .await
        .expect("rotate after a flush"));
    assert!(store.load(&key).await.expect("load").is_none());
    assert!(store.load(&new).await.expect("load").is_some());
    clean_up(&store, &raw).await;
}

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

async fn a_prefix_with_braces_is_refused() {
    // Building a store needs a connection object, not a server: a lazy manager connects on
    // first use.
    let client = redis::Client::open("redis://127.0.0.1:1").expect("URL");
    let manager = redis::aio::ConnectionManager::new_lazy_with_config(
        client,
        redis::aio::ConnectionManagerConfig::new(),
    )
    .expect("lazy manager");
    let refusal = expect_panic(move || {
        let _ = RedisStore::from_manager(manager).with_prefix("app:{tag}:");
    });
    assert!(refusal.contains("braces"), "{refusal}");
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster: three masters started by this test, stopped when it ends (pass or fail).
// ---------------------------------------------------------------------------------------------

async fn cluster_suite() {
    let cluster = Cluster::start(cluster_ports());
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
    conformance::run(&store.clone().with_retention(Duration::from_secs(86_400))).await;
    conformance::run(&store).await;
    ttls_follow_deadlines(&store, &raw).await;
    // With a near cache: every command through its RESP3 cluster connection, reads served
    // from copies where it holds them.
    let near = RedisStore::connect_cluster(&urls)
        .await
        .unwrap()
        .with_prefix(unique_prefix("cluster-near"))
        .with_near_cache(NearCache::new(Duration::from_millis(200)))
        .await
        .unwrap();
    conformance::run(&near).await;
    conformance::run(&near.clone().with_retention(Duration::from_secs(86_400))).await;
    rotate_leaves_one_working_token(&near, &raw).await;
    revocation_beats_a_concurrent_rotation(&near).await;
    let stats = near.near_cache_stats().unwrap();
    assert!(stats.hits > 0, "reads were served from copies: {stats:?}");
    ended_records_keep_the_period(&store.clone().with_retention(PERIOD), &raw).await;
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

fn main() -> ExitCode {
    servers::run([
        trial!(Redis: standalone_passes_the_conformance_suite_twice),
        trial!(Redis: standalone_with_near_cache_passes_the_conformance_suite),
        trial!(Redis: standalone_ended_records_keep_the_period),
        trial!(Redis: standalone_ttls_follow_deadlines),
        trial!(Redis: standalone_rotate_leaves_one_working_token),
        trial!(Redis: standalone_concurrent_updates_of_different_keys_all_persist),
        trial!(Redis: standalone_odd_keys_round_trip),
        trial!(Redis: standalone_query_lists_every_session_of_its_prefix),
        trial!(Redis: standalone_delete_expired_cleans_indexes),
        trial!(Redis: standalone_corrupt_data_is_an_error),
        trial!(Redis: standalone_recovers_after_the_connection_drops),
        trial!(Redis: standalone_runs_its_scripts_after_a_script_flush),
        trial!(unreachable_server_is_a_backend_error),
        trial!(a_prefix_with_braces_is_refused),
        trial!(RedisCluster: cluster_suite),
    ])
}
