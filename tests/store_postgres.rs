//! The PostgreSQL store against a real server: the conformance suite, the SQL checks,
//! migrations and corrupt rows. Each test uses a table of its own and drops it afterwards.
//!
//! Set `SESSIONWARD_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test` to run it (without
//! it the tests needing the server are reported as ignored); under `CI=true` that URL is the
//! default, and an unreachable server fails the suite.

mod servers;
mod sql_support;

use std::process::ExitCode;
use std::time::Duration;

use servers::{trial, Suite};
use sessionward::store::conformance::{self, sample};
use sessionward::store::{PostgresStore, SessionStore};
use sessionward::StoreError;
use sql_support::{drop_postgres_table, run_then_clean, sql_checks, unique_table};

/// A store on a table of its own (not migrated yet).
async fn store() -> PostgresStore {
    let url = Suite::Postgres.value();
    let store = PostgresStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to PostgreSQL at {url}: {err}"));
    store.with_table(&unique_table()).expect("valid table name")
}

async fn passes_the_conformance_suite_twice() {
    let store = store().await;
    let s = store.clone();
    run_then_clean(
        async move {
            s.migrate().await.expect("migrate");
            conformance::run(&s).await;
            // With retention, then without again on a table that holds ended rows.
            conformance::run(&s.clone().with_retention(Duration::from_secs(86_400))).await;
            conformance::run(&s).await;
        },
        drop_postgres_table(store),
    )
    .await;
}

async fn passes_the_sql_checks() {
    let store = store().await;
    let s = store.clone();
    run_then_clean(
        async move {
            s.migrate().await.expect("migrate");
            sql_checks(&s).await;
        },
        drop_postgres_table(store),
    )
    .await;
}

async fn migrate_is_idempotent_versioned_and_indexed() {
    let store = store().await;
    let s = store.clone();
    run_then_clean(
        async move {
            // Two processes starting at once take turns; a third call changes nothing.
            let (a, b) = tokio::join!(s.migrate(), s.migrate());
            a.expect("first concurrent migrate");
            b.expect("second concurrent migrate");
            s.migrate().await.expect("migrate again");
            let version: i32 = sqlx::query_scalar(
                "SELECT version FROM sessionward_migrations WHERE table_name = $1",
            )
            .bind(s.table())
            .fetch_one(s.pool())
            .await
            .expect("version row");
            assert_eq!(version, 3);
            let mut indexes: Vec<String> =
                sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE tablename = $1")
                    .bind(s.table())
                    .fetch_all(s.pool())
                    .await
                    .expect("indexes");
            indexes.sort();
            let joined = indexes.join("\n");
            for column in [
                "(token_hash)",
                "(id)",
                "(user_name, created_at DESC)",
                "(deadline)",
            ] {
                assert!(joined.contains(column), "index on {column}: {joined}");
            }

            // A table migrated by a newer sessionward is refused, not modified.
            sqlx::query("UPDATE sessionward_migrations SET version = 99 WHERE table_name = $1")
                .bind(s.table())
                .execute(s.pool())
                .await
                .expect("pretend a newer version");
            let err = s.migrate().await.expect_err("newer schema refused");
            assert!(err.to_string().contains("version 99"), "{err}");
        },
        drop_postgres_table(store),
    )
    .await;
}

async fn table_names_are_validated() {
    let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy(Suite::Postgres.default_value());
    let pool = pool.expect("a lazy pool connects to nothing");
    sql_support::table_names_are_validated(|name| {
        PostgresStore::new(pool.clone())
            .with_table(name)
            .map(|store| store.table().to_owned())
    });
}

async fn an_unreachable_server_is_a_backend_error() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy("postgres://postgres@127.0.0.1:1/test")
        .expect("a lazy pool connects to nothing");
    let store = PostgresStore::new(pool);
    sql_support::unreachable_server_is_a_backend_error(&store, store.migrate()).await;
}

async fn corrupt_rows_are_errors_not_panics() {
    let store = store().await;
    let s = store.clone();
    run_then_clean(
        async move {
            s.migrate().await.expect("migrate");
            let insert = format!(
                r#"INSERT INTO "{}" (token_hash, id, user_name, data, created_at, last_seen_at,
                   expires_at, idle_expires_at, deadline, user_agent, ip)
                   VALUES ($1, $2, 'u', $3::jsonb, 0, 0, 4102444800000, 4102444800000,
                   4102444800000, NULL, $4)"#,
                s.table()
            );
            let cases: [(&[u8], &str, Option<&str>); 4] = [
                (&[7; 15], r#"{"a":"1"}"#, None),
                (&[7; 16], r#"{"a":1}"#, None),
                (&[8; 16], r#"{"a":"not json"}"#, None),
                (&[9; 16], r#"{"a":"1"}"#, Some("not an ip")),
            ];
            for (id, data, ip) in cases {
                let (key, _) = sample(None, Duration::ZERO);
                sqlx::query(&insert)
                    .bind(&key.0[..])
                    .bind(id)
                    .bind(data)
                    .bind(ip)
                    .execute(s.pool())
                    .await
                    .expect("insert a corrupt row");
                let loaded = s.load(&key).await;
                assert!(
                    matches!(loaded, Err(StoreError::Corrupt(_))),
                    "id {id:?}, data {data}, ip {ip:?}: {loaded:?}"
                );
            }
        },
        drop_postgres_table(store),
    )
    .await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(Postgres: passes_the_conformance_suite_twice),
        trial!(Postgres: passes_the_sql_checks),
        trial!(Postgres: migrate_is_idempotent_versioned_and_indexed),
        trial!(table_names_are_validated),
        trial!(an_unreachable_server_is_a_backend_error),
        trial!(Postgres: corrupt_rows_are_errors_not_panics),
    ])
}
