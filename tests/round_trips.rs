//! Store round trips per request, for every backend, counted by a wrapper around the real
//! store: none for a request that never touches its session, one for a read-only request, two
//! (one read, one write) for a request that reads and writes.

mod common;
#[allow(dead_code)] // the suites use different parts
#[path = "redis_support/mod.rs"]
mod redis_support;
#[path = "sql_support/mod.rs"]
mod sql_support;

use common::assert_round_trips;
use sessionward::store::{MemoryStore, MySqlStore, PostgresStore, SqliteStore};
use sql_support::{
    drop_mysql_table, drop_postgres_table, run_then_clean, server_url, unique_table, TempDb, MYSQL,
    POSTGRES,
};

#[tokio::test]
async fn memory() {
    assert_round_trips(MemoryStore::default()).await;
}

#[tokio::test]
async fn sqlite() {
    let file = TempDb::new();
    assert_round_trips(SqliteStore::open(&file.0).await.unwrap()).await;
}

#[tokio::test]
async fn postgres() {
    let Some(url) = server_url(POSTGRES, "PostgreSQL round trips") else {
        return;
    };
    let store = PostgresStore::connect(&url)
        .await
        .unwrap()
        .with_table(&unique_table())
        .unwrap();
    store.migrate().await.unwrap();
    run_then_clean(
        assert_round_trips(store.clone()),
        drop_postgres_table(store),
    )
    .await;
}

#[tokio::test]
async fn mysql() {
    let Some(url) = server_url(MYSQL, "MySQL round trips") else {
        return;
    };
    let store = MySqlStore::connect(&url)
        .await
        .unwrap()
        .with_table(&unique_table())
        .unwrap();
    store.migrate().await.unwrap();
    run_then_clean(assert_round_trips(store.clone()), drop_mysql_table(store)).await;
}

#[tokio::test]
async fn redis() {
    let Some(store) = redis_support::standalone_store("rt").await else {
        return;
    };
    assert_round_trips(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster() {
    let Some((_cluster, store)) = redis_support::cluster_store("rt").await else {
        return;
    };
    assert_round_trips(store).await;
}
