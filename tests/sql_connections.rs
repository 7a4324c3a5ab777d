//! How the network SQL stores use the pool they are given. The request path's statements
//! (load, create, update, rotate) run on connections the store keeps between them, so that
//! sqlx's ping as a connection goes back to the pool is not paid on every statement. What an
//! app relies on, tested here against real servers:
//!
//! - the pool's `max_connections` still bounds the connections, and the store never keeps
//!   the whole pool: the app's own queries get a connection at once;
//! - `pool.close()` returns;
//! - a statement cancelled half-way (a request timeout) leaves nothing behind that a later
//!   statement could read as its own answer;
//! - a connection that the server ended while the store kept it is found out before use.
//!
//! Set `SESSIONWARD_TEST_POSTGRES` and `SESSIONWARD_TEST_MYSQL` as for the store suites.

mod servers;
mod sql_support;

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use servers::{trial, Suite};
use sessionward::store::conformance::sample;
use sessionward::store::{MySqlStore, PostgresStore, SessionPatch, SessionStore};
use sql_support::{drop_mysql_table, drop_postgres_table, raw, run_then_clean, unique_table};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;

/// The pool of the budget tests: four connections, and a checkout that gives up after 2 s.
const POOL_SIZE: u32 = 4;
const CHECKOUT: Duration = Duration::from_secs(2);

async fn postgres_store(pool_size: u32) -> PostgresStore {
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .acquire_timeout(CHECKOUT)
        .connect(&Suite::Postgres.value())
        .await
        .expect("connect to PostgreSQL");
    let store = PostgresStore::new(pool)
        .with_table(&unique_table())
        .expect("valid table name");
    store.migrate().await.expect("migrate");
    store
}

async fn mysql_store(pool_size: u32) -> MySqlStore {
    let pool = MySqlPoolOptions::new()
        .max_connections(pool_size)
        .acquire_timeout(CHECKOUT)
        .connect(&Suite::MySql.value())
        .await
        .expect("connect to MySQL");
    let store = MySqlStore::new(pool)
        .with_table(&unique_table())
        .expect("valid table name");
    store.migrate().await.expect("migrate");
    store
}

/// A patch that sets `n` to `value`.
fn set_n(value: u64) -> SessionPatch {
    SessionPatch {
        data: vec![("n".to_owned(), Some(raw(&value.to_string())))],
        ..SessionPatch::default()
    }
}

fn n_of(record: &sessionward::store::SessionRecord) -> Option<String> {
    record.data.get_raw("n").map(|v| v.get().to_owned())
}

/// Many sessions created, read and written at once; then the pool is within its limit, two
/// checkouts for the app succeed at once, and the pool closes although the store kept
/// connections.
async fn keeps_within_the_pool<S, DB>(store: S, pool: sqlx::Pool<DB>)
where
    S: SessionStore + Clone + 'static,
    DB: sqlx::Database,
{
    let mut rounds = tokio::task::JoinSet::new();
    for i in 0..32u64 {
        let store = store.clone();
        rounds.spawn(async move {
            let (key, record) = sample(None, Duration::ZERO);
            store.create(&key, record).await.expect("create");
            assert!(store.update(&key, &set_n(i)).await.expect("update"));
            let loaded = store.load(&key).await.expect("load").expect("the session");
            assert_eq!(n_of(&loaded), Some(i.to_string()));
        });
    }
    while let Some(round) = rounds.join_next().await {
        round.expect("a round");
    }
    assert!(pool.size() <= POOL_SIZE, "{} connections", pool.size());
    // Half the pool at least is free for the app: two checkouts at once, at once.
    let (a, b) = tokio::join!(pool.acquire(), pool.acquire());
    a.expect("a connection for the app");
    b.expect("a second connection for the app");
    tokio::time::timeout(Duration::from_secs(10), pool.close())
        .await
        .expect("close returns");
}

async fn postgres_keeps_within_the_pool_and_leaves_room_for_the_app() {
    let store = postgres_store(POOL_SIZE).await;
    let pool = store.pool().clone();
    run_then_clean(
        keeps_within_the_pool(store.clone(), pool),
        drop_table_after_close_postgres(store),
    )
    .await;
}

async fn mysql_keeps_within_the_pool_and_leaves_room_for_the_app() {
    let store = mysql_store(POOL_SIZE).await;
    let pool = store.pool().clone();
    run_then_clean(
        keeps_within_the_pool(store.clone(), pool),
        drop_table_after_close_mysql(store),
    )
    .await;
}

/// A pool of one is never kept by the store: the app's query gets it at once.
async fn postgres_pool_of_one_stays_free() {
    let store = postgres_store(1).await;
    let s = store.clone();
    run_then_clean(
        async move {
            let (key, record) = sample(None, Duration::ZERO);
            s.create(&key, record).await.expect("create");
            s.load(&key).await.expect("load").expect("the session");
            let conn = tokio::time::timeout(Duration::from_millis(500), s.pool().acquire())
                .await
                .expect("the only connection is free");
            drop(conn.expect("a connection"));
        },
        drop_postgres_table(store),
    )
    .await;
}

/// The test's own table is dropped through a fresh store: the test closed the store's pool.
async fn drop_table_after_close_postgres(store: PostgresStore) {
    let fresh = PostgresStore::connect(&Suite::Postgres.value()).await;
    drop_postgres_table(fresh.unwrap().with_table(store.table()).unwrap()).await;
}

async fn drop_table_after_close_mysql(store: MySqlStore) {
    let fresh = MySqlStore::connect(&Suite::MySql.value()).await;
    drop_mysql_table(fresh.unwrap().with_table(store.table()).unwrap()).await;
}

/// An update cancelled while the server runs it (it waits for a row lock held elsewhere), as
/// a request timeout cancels it: later statements get their own answers.
async fn postgres_cancelled_update_leaves_no_stray_answer() {
    let store = postgres_store(POOL_SIZE).await;
    let s = store.clone();
    run_then_clean(
        async move {
            let (key, record) = sample(None, Duration::ZERO);
            s.create(&key, record).await.expect("create");
            let table = s.table().to_owned();
            let pool = s.pool().clone();
            let mut holder = pool.begin().await.expect("a transaction");
            sqlx::query(&format!(
                r#"SELECT 1 FROM "{table}" WHERE token_hash = $1 FOR UPDATE"#
            ))
            .bind(&key.0[..])
            .execute(&mut *holder)
            .await
            .expect("lock the row");
            // The update runs until the server reports it waiting for the lock; then it is
            // dropped, as a timeout drops it.
            let waiting = async {
                loop {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE wait_event_type = 'Lock' AND query LIKE $1",
                    )
                    .bind(format!("UPDATE \"{table}\"%"))
                    .fetch_one(&pool)
                    .await
                    .expect("pg_stat_activity");
                    if n > 0 {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            };
            let one = set_n(1);
            tokio::select! {
                done = s.update(&key, &one) => panic!("the update ran past a held lock: {done:?}"),
                () = waiting => {}
            }
            holder.rollback().await.expect("release the lock");
            // Each later statement reads its own answer, whatever became of the cancelled one.
            for n in 2..12u64 {
                assert!(s.update(&key, &set_n(n)).await.expect("update"));
                let loaded = s.load(&key).await.expect("load").expect("the session");
                assert_eq!(n_of(&loaded), Some(n.to_string()));
                let (other, record) = sample(None, Duration::ZERO);
                s.create(&other, record).await.expect("create");
                let fresh = s
                    .load(&other)
                    .await
                    .expect("load")
                    .expect("the new session");
                assert_eq!(n_of(&fresh), None);
            }
        },
        drop_postgres_table(store),
    )
    .await;
}

/// Connections the server ended while the store kept them idle (a restart, an idle timeout
/// of a proxy) are pinged before use once idle for over a second: the next request works.
async fn postgres_connection_ended_by_the_server_is_replaced() {
    let store = postgres_store(POOL_SIZE).await;
    let s = store.clone();
    run_then_clean(
        async move {
            let (key, record) = sample(None, Duration::ZERO);
            s.create(&key, record).await.expect("create");
            s.load(&key).await.expect("load").expect("the session");
            // Every connection whose last statement named this test's table: the store's.
            let killer = PgPoolOptions::new()
                .max_connections(1)
                .connect(&Suite::Postgres.value())
                .await
                .expect("connect to PostgreSQL");
            let ended: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE pid <> pg_backend_pid() AND query LIKE $1",
            )
            .bind(format!("%\"{}\"%", s.table()))
            .fetch_all(&killer)
            .await
            .expect("end the store's connections");
            assert!(!ended.is_empty(), "the store kept a connection");
            killer.close().await;
            // The store's rule: a connection idle for over a second is pinged first.
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let loaded = s.load(&key).await.expect("load after the server ended it");
            assert!(loaded.is_some());
            assert!(s.update(&key, &set_n(7)).await.expect("update"));
            let now = SystemTime::now();
            assert!(s.load(&key).await.unwrap().unwrap().is_active(now));
        },
        drop_postgres_table(store),
    )
    .await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(Postgres: postgres_keeps_within_the_pool_and_leaves_room_for_the_app),
        trial!(Postgres: postgres_pool_of_one_stays_free),
        trial!(Postgres: postgres_cancelled_update_leaves_no_stray_answer),
        trial!(Postgres: postgres_connection_ended_by_the_server_is_replaced),
        trial!(MySql: mysql_keeps_within_the_pool_and_leaves_room_for_the_app),
    ])
}
