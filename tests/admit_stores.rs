//! Session caps under real concurrency on every store but memory (which `conformance.rs`
//! covers): logins of one user racing with a per-user cap, and logins of many users racing
//! with a store-wide cap, never pass the cap. Each store's `admit` serialises admissions with
//! a lock of its own (an advisory lock, a named lock, a Redis lease, an in-process mutex):
//! without it this race fails (the steps alone read the same counts in parallel).
//!
//! The server stores need their variables, as the store suites do.

#[allow(dead_code)] // the cluster helpers this file does not use
mod redis_support;
mod sql_support;

use sessionward::store::conformance;
use sessionward::store::{MySqlStore, PostgresStore, SqliteStore};
use sql_support::{
    drop_mysql_table, drop_postgres_table, run_then_clean, server_url, unique_table, TempDb, MYSQL,
    POSTGRES,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_logins_racing_never_pass_the_limits() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    conformance::logins_racing_never_pass_the_limits(&store).await;
    store.pool().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_logins_racing_never_pass_the_limits() {
    let Some(url) = server_url(POSTGRES, "PostgreSQL session caps race") else {
        return;
    };
    let store = PostgresStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to PostgreSQL at {url}: {err}"))
        .with_table(&unique_table())
        .expect("valid table name");
    let s = store.clone();
    run_then_clean(
        async move {
            s.migrate().await.expect("migrate");
            conformance::logins_racing_never_pass_the_limits(&s).await;
            // A second store on the same table (another instance of the app) shares the locks.
            conformance::logins_racing_never_pass_the_limits(&s).await;
        },
        drop_postgres_table(store),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_logins_racing_never_pass_the_limits() {
    let Some(url) = server_url(MYSQL, "MySQL session caps race") else {
        return;
    };
    let store = MySqlStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to MySQL at {url}: {err}"))
        .with_table(&unique_table())
        .expect("valid table name");
    let s = store.clone();
    run_then_clean(
        async move {
            s.migrate().await.expect("migrate");
            conformance::logins_racing_never_pass_the_limits(&s).await;
        },
        drop_mysql_table(store),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_logins_racing_never_pass_the_limits() {
    let Some(store) = redis_support::standalone_store("admit").await else {
        return;
    };
    conformance::logins_racing_never_pass_the_limits(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_logins_racing_never_pass_the_limits() {
    let Some((_cluster, store)) = redis_support::cluster_store("admit").await else {
        return;
    };
    conformance::logins_racing_never_pass_the_limits(&store).await;
}
