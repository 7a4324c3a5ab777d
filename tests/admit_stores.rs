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

use servers::trial;
use sessionward::store::conformance;
use sessionward::store::SqliteStore;
use sql_support::{on_fresh_mysql_table, on_fresh_postgres_table, TempDb};

async fn sqlite_logins_racing_never_pass_the_limits() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    conformance::logins_racing_never_pass_the_limits(&store).await;
    store.pool().close().await;
}

async fn postgres_logins_racing_never_pass_the_limits() {
    on_fresh_postgres_table(|store| async move {
        conformance::logins_racing_never_pass_the_limits(&store).await;
        // Twice: the second run finds the first run's sessions in the table.
        conformance::logins_racing_never_pass_the_limits(&store).await;
    })
    .await;
}

async fn mysql_logins_racing_never_pass_the_limits() {
    on_fresh_mysql_table(|store| async move {
        conformance::logins_racing_never_pass_the_limits(&store).await;
    })
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
