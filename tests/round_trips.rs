//! Store round trips per request, for every backend, counted by a wrapper around the real
//! store: none for a request that never touches its session, one for a read-only request, two
//! (one read, one write) for a request that reads and writes.

mod common;
#[allow(dead_code)] // the suites use different parts
#[path = "redis_support/mod.rs"]
mod redis_support;
mod servers;
#[path = "sql_support/mod.rs"]
mod sql_support;

use std::process::ExitCode;

use common::assert_round_trips;
use servers::{trial, Suite};
use sessionward::store::{MemoryStore, MySqlStore, PostgresStore, SqliteStore};
use sql_support::{drop_mysql_table, drop_postgres_table, run_then_clean, unique_table, TempDb};

async fn memory() {
    assert_round_trips(MemoryStore::default()).await;
}

async fn sqlite() {
    let file = TempDb::new();
    assert_round_trips(SqliteStore::open(&file.0).await.unwrap()).await;
}

async fn postgres() {
    let url = Suite::Postgres.value();
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

async fn mysql() {
    let url = Suite::MySql.value();
    let store = MySqlStore::connect(&url)
        .await
        .unwrap()
        .with_table(&unique_table())
        .unwrap();
    store.migrate().await.unwrap();
    run_then_clean(assert_round_trips(store.clone()), drop_mysql_table(store)).await;
}

async fn redis() {
    let store = redis_support::standalone_store("rt").await;
    assert_round_trips(store).await;
}

async fn redis_cluster() {
    let (_cluster, store) = redis_support::cluster_store("rt").await;
    assert_round_trips(store).await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(memory),
        trial!(sqlite),
        trial!(Postgres: postgres),
        trial!(MySql: mysql),
        trial!(Redis: redis),
        trial!(RedisCluster: redis_cluster),
    ])
}
