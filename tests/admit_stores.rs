//! Session caps under real concurrency on every store but memory (which `conformance.rs`
//! covers): logins of one user racing with a per-user cap, and logins of many users racing
//! with a store-wide cap, never pass the cap. Each store's `admit` serialises admissions with
//! a lock of its own (an advisory lock, a named lock, a Redis lease, an in-process mutex):
//! without it this race fails (the steps alone read the same counts in parallel).
//!
//! The server stores need their variables, as the store suites do; without one, its test is
//! reported as ignored.

#[allow(dead_code)] // the cluster helpers this file does not use
mod redis_support;
mod servers;
mod sql_support;

use std::process::ExitCode;

use servers::{trial, Suite};
use sessionward::store::conformance;
use sessionward::store::{MySqlStore, PostgresStore, SqliteStore};
use sql_support::{drop_mysql_table, drop_postgres_table, run_then_clean, unique_table, TempDb};

async fn sqlite_logins_racing_never_pass_the_limits() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    conformance::logins_racing_never_pass_the_limits(&store).await;
    store.pool().close().await;
}

async fn postgres_logins_racing_never_pass_the_limits() {
    let url = Suite::Postgres.value();
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
            // Twice: the second run finds the first run's sessions in the table.
            conformance::logins_racing_never_pass_the_limits(&s).await;
        },
        drop_postgres_table(store),
    )
    .await;
}

async fn mysql_logins_racing_never_pass_the_limits() {
    let url = Suite::MySql.value();
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

async fn redis_logins_racing_never_pass_the_limits() {
    let store = redis_support::standalone_store("admit").await;
    conformance::logins_racing_never_pass_the_limits(&store).await;
}

async fn redis_cluster_logins_racing_never_pass_the_limits() {
    let (_cluster, store) = redis_support::cluster_store("admit").await;
    conformance::logins_racing_never_pass_the_limits(&store).await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(sqlite_logins_racing_never_pass_the_limits, workers = 4),
        trial!(Postgres: postgres_logins_racing_never_pass_the_limits, workers = 4),
        trial!(MySql: mysql_logins_racing_never_pass_the_limits, workers = 4),
        trial!(Redis: redis_logins_racing_never_pass_the_limits, workers = 4),
        trial!(RedisCluster: redis_cluster_logins_racing_never_pass_the_limits, workers = 4),
    ])
}
