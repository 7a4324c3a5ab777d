//! Instruction counts of a `/r` through the PostgreSQL store against the store's own `SELECT`
//! sent bare, for what wall time cannot settle on a shared machine: how much of what a request
//! through sqlx adds beyond its round trip is the layer, and how much the pool.
//!
//! `postgres_ir STACK N`: the stack is `postgres` (`/r` through `PostgresStore`, on a table of
//! its own), `bare-select` (the store's `SELECT` of that session by token hash on a plain
//! connection) or `pool-select` (the same `SELECT` through a sqlx pool set as the store sets its
//! own: no ping before checkout, but sqlx's ping as each connection is given back); 50
//! requests warm up, then `N` more. The instructions per request are the difference between a
//! run with `N` and one with 0, divided by `N`: `python3 benches/postgres_ir.py`. Needs
//! PostgreSQL (`SESSIONWARD_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`);
//! the table is dropped at the end.

use std::hint::black_box;

use axum::http::StatusCode;
use sessionward::store::PostgresStore;
use sessionward_bench::{routers, send, token_hash};
use sqlx::Connection;

fn main() {
    let mut args = std::env::args().skip(1);
    let stack = args
        .next()
        .expect("a stack: postgres, bare-select or pool-select");
    let n: usize = args.next().and_then(|n| n.parse().ok()).expect("a count");
    let url = std::env::var("SESSIONWARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let table = format!("swir_{}", std::process::id());
        let store = PostgresStore::connect(&url)
            .await
            .expect("PostgreSQL (set SESSIONWARD_TEST_POSTGRES)")
            .with_table(&table)
            .expect("table name");
        store.migrate().await.expect("migrate");
        let pool = store.pool().clone();
        let app = routers::sessionward(store);
        let (status, cookie, _) = send(&app, "/new", None).await;
        assert_eq!(status, StatusCode::OK);
        let cookie = cookie.expect("a session cookie");
        let hash = token_hash(&cookie).expect("a session token");
        let select = format!(
            "SELECT id, user_name, data::text, created_at, last_seen_at, expires_at, \
             idle_expires_at, user_agent, ip, idle_timeout, persistent_cookie, ended_at, \
             end_reason FROM \"{table}\" WHERE token_hash = $1 AND ended_at IS NULL"
        );
        match stack.as_str() {
            "postgres" => {
                for _ in 0..50 + n {
                    let (status, set_cookie, body) = send(&app, "/r", Some(&cookie)).await;
                    assert_eq!(status, StatusCode::OK);
                    black_box((set_cookie, body));
                }
            }
            "bare-select" => {
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
                for _ in 0..50 + n {
                    let row = sqlx::query(&select)
                        .bind(&hash.0[..])
                        .fetch_one(&mut conn)
                        .await
                        .expect("SELECT");
                    black_box(row);
                }
            }
            "pool-select" => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .test_before_acquire(false)
                    .connect(&url)
                    .await
                    .expect("pool");
                for _ in 0..50 + n {
                    let row = sqlx::query(&select)
                        .bind(&hash.0[..])
                        .fetch_one(&pool)
                        .await
                        .expect("SELECT");
                    black_box(row);
                }
                // Let the last connection's ping on release finish inside the count.
                pool.close().await;
            }
            other => panic!("unknown stack {other}"),
        }
        drop(app);
        sqlx::query(&format!("DROP TABLE IF EXISTS \"{table}\""))
            .execute(&pool)
            .await
            .expect("drop the table");
        sqlx::query("DELETE FROM sessionward_migrations WHERE table_name = $1")
            .bind(&table)
            .execute(&pool)
            .await
            .expect("forget the table");
    });
}
