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

use servers::{trial, Suite};
use sessionward::store::{MySqlStore, PostgresStore, SqliteStore};
use sql_support::{drop_mysql_table, drop_postgres_table, run_then_clean, unique_table, TempDb};

async fn sqlite() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    admin_support::runs_on(store.clone()).await;
    store.pool().close().await;
}

async fn postgres() {
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
            admin_support::runs_on(s).await;
        },
        drop_postgres_table(store),
    )
    .await;
}

async fn mysql() {
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
            admin_support::runs_on(s).await;
        },
        drop_mysql_table(store),
    )
    .await;
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
