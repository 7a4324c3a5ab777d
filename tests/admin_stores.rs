//! The demo's admin API over every store but memory (the other admin suites use memory): the
//! API uses only the store contract, so each backend must give the same answers. The server
//! stores need their variables, as the store suites do (a missing server fails under
//! `CI=true` and is reported as ignored otherwise).

mod common;

mod admin_support;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;
#[allow(dead_code)] // the cluster helpers this file does not use
mod redis_support;
mod servers;
mod sql_support;

use std::process::ExitCode;

use servers::trial;
use sessionward::store::SqliteStore;
use sql_support::{on_fresh_mysql_table, on_fresh_postgres_table, TempDb};

async fn sqlite() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    admin_support::runs_on(store.clone()).await;
    store.pool().close().await;
}

async fn postgres() {
    on_fresh_postgres_table(admin_support::runs_on).await;
}

async fn mysql() {
    on_fresh_mysql_table(admin_support::runs_on).await;
}

async fn redis() {
    let store = redis_support::standalone_store("admin").await;
    admin_support::runs_on(store).await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(sqlite),
        trial!(Postgres: postgres),
        trial!(MySql: mysql),
        trial!(Redis: redis),
    ])
}
