//! The MySQL / MariaDB store against a real server: the conformance suite, the SQL checks,
//! migrations and corrupt rows. Each test uses a table of its own and drops it afterwards.
//!
//! Set `SESSIONWARD_TEST_MYSQL=mysql://root@127.0.0.1:3306/test` to run it (without it the
//! tests needing the server are reported as ignored); under `CI=true` that URL is the default,
//! and an unreachable server fails the suite.

mod servers;
mod sql_support;

use std::process::ExitCode;
use std::time::Duration;

use servers::{trial, Suite};
use sessionward::store::conformance::{self, sample};
use sessionward::store::{MySqlStore, SessionStore};
use sessionward::StoreError;
use sql_support::{drop_mysql_table, run_then_clean, sql_checks, unique_table};

/// A store on a table of its own (not migrated yet).
async fn store() -> MySqlStore {
    let url = Suite::MySql.value();
    let store = MySqlStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to MySQL at {url}: {err}"));
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
        drop_mysql_table(store),
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
        drop_mysql_table(store),
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
                "SELECT version FROM sessionward_migrations WHERE table_name = ?",
            )
            .bind(s.table())
            .fetch_one(s.pool())
            .await
            .expect("version row");
            assert_eq!(version, 3);
            let indexes: Vec<(String, String)> = sqlx::query_as(
                "SELECT CAST(index_name AS CHAR), \
                 CAST(GROUP_CONCAT(column_name ORDER BY seq_in_index) AS CHAR) \
                 FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND table_name = ? GROUP BY index_name",
            )
            .bind(s.table())
            .fetch_all(s.pool())
            .await
            .expect("indexes");
            let columns: Vec<&str> = indexes.iter().map(|(_, c)| c.as_str()).collect();
            for wanted in ["token_hash", "id", "user_name,created_at", "deadline"] {
                assert!(columns.contains(&wanted), "index on {wanted}: {indexes:?}");
            }

            // A table migrated by a newer sessionward is refused, not modified.
            sqlx::query("UPDATE sessionward_migrations SET version = 99 WHERE table_name = ?")
                .bind(s.table())
                .execute(s.pool())
                .await
                .expect("pretend a newer version");
            let err = s.migrate().await.expect_err("newer schema refused");
            assert!(err.to_string().contains("version 99"), "{err}");
        },
        drop_mysql_table(store),
    )
    .await;
}

async fn table_names_are_validated() {
    let pool = sqlx::mysql::MySqlPoolOptions::new().connect_lazy(Suite::MySql.default_value());
    let pool = pool.expect("a lazy pool connects to nothing");
    sql_support::table_names_are_validated(|name| {
        MySqlStore::new(pool.clone())
            .with_table(name)
            .map(|store| store.table().to_owned())
    });
}

async fn an_unreachable_server_is_a_backend_error() {
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy("mysql://root@127.0.0.1:1/test")
        .expect("a lazy pool connects to nothing");
    let store = MySqlStore::new(pool);
    sql_support::unreachable_server_is_a_backend_error(&store, store.migrate()).await;
}

/// A row to insert: id, user, data and ip columns.
type CorruptRow = (
    &'static [u8],
    &'static [u8],
    &'static str,
    Option<&'static str>,
);

async fn corrupt_rows_are_errors_not_panics() {
    let store = store().await;
    let s = store.clone();
    run_then_clean(
        async move {
            s.migrate().await.expect("migrate");
            let insert = format!(
                "INSERT INTO `{}` (token_hash, id, user_name, data, created_at, last_seen_at,
                 expires_at, idle_expires_at, deadline, user_agent, ip)
                 VALUES (?, ?, ?, ?, 0, 0, 4102444800000, 4102444800000, 4102444800000, NULL, ?)",
                s.table()
            );
            // (BINARY(16) pads a short id, so a wrong-length id cannot be stored here.)
            let cases: [CorruptRow; 4] = [
                (&[7; 16], b"u", r#"{"a":1}"#, None),
                (&[8; 16], b"u", r#"{"a":"not json"}"#, None),
                (&[9; 16], b"u", r#"{"a":"1"}"#, Some("not an ip")),
                (&[10; 16], b"\xff\xfe", r#"{"a":"1"}"#, None),
            ];
            for (id, user, data, ip) in cases {
                let (key, _) = sample(None, Duration::ZERO);
                sqlx::query(&insert)
                    .bind(&key.0[..])
                    .bind(id)
                    .bind(user)
                    .bind(data)
                    .bind(ip)
                    .execute(s.pool())
                    .await
                    .expect("insert a corrupt row");
                let loaded = s.load(&key).await;
                assert!(
                    matches!(loaded, Err(StoreError::Corrupt(_))),
                    "id {id:?}, user {user:?}, data {data}, ip {ip:?}: {loaded:?}"
                );
            }
        },
        drop_mysql_table(store),
    )
    .await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(MySql: passes_the_conformance_suite_twice),
        trial!(MySql: passes_the_sql_checks),
        trial!(MySql: migrate_is_idempotent_versioned_and_indexed),
        trial!(table_names_are_validated),
        trial!(an_unreachable_server_is_a_backend_error),
        trial!(MySql: corrupt_rows_are_errors_not_panics),
    ])
}
