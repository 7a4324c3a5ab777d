//! The demo's admin API over every store but memory (the other admin suites use memory): the
//! API uses only the store contract, so each backend must give the same answers. The server
//! stores need their variables, as the store suites do (a missing server fails under
//! `CI=true` and is reported as skipped otherwise).

mod common;

mod admin_support;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;
#[allow(dead_code)] // the cluster helpers this file does not use
mod redis_support;
mod sql_support;

use sessionward::store::{MySqlStore, PostgresStore, SqliteStore};
use sql_support::{
    drop_mysql_table, drop_postgres_table, run_then_clean, server_url, unique_table, TempDb, MYSQL,
    POSTGRES,
};

#[tokio::test]
async fn sqlite() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    admin_support::runs_on(store.clone()).await;
    store.pool().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(url) = server_url(POSTGRES, "admin API over PostgreSQL") else {
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
            admin_support::runs_on(s).await;
        },
        drop_postgres_table(store),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    let Some(url) = server_url(MYSQL, "admin API over MySQL") else {
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
            admin_support::runs_on(s).await;
        },
        drop_mysql_table(store),
    )
    .await;
}

#[tokio::test]
async fn redis() {
    let Some(store) = redis_support::standalone_store("admin").await else {
        return;
    };
    admin_support::runs_on(store).await;
}
