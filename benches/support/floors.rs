//! The floors under any stack on a network server: the bare commands its round trips amount
//! to, each through a connection that does not ping first.
//!
//! * a read: on Redis, `HGETALL` of the session's record, the very command the store sends to
//!   load it (and `PING`, the least any round trip costs); `SELECT 1` on PostgreSQL and
//!   MariaDB (one round trip, what a session read costs the server least);
//! * a write: `HSET` of one small field on Redis, a one-row `UPDATE` in autocommit on
//!   PostgreSQL and MariaDB (one round trip and, on SQL, one commit: what a session write costs
//!   the server least).
//!
//! [`added_cost`] times a request and its floor back to back, pair after pair, so the slow and
//! fast phases of a shared machine fall on both alike.

use std::future::Future;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use redis::aio::MultiplexedConnection;
use sqlx::mysql::MySqlPool;
use sqlx::pool::PoolOptions;
use sqlx::postgres::PgPool;
use sqlx::Pool;

use crate::store_cleanup::{err, Fallible};

/// The floor commands of one server.
pub enum Floors {
    Redis {
        conn: MultiplexedConnection,
        /// The hash the bare write sets: deleted by [`remove`](Floors::remove).
        key: String,
        /// The record of the session the stack's `/r` and `/rw` read.
        record: String,
    },
    Postgres {
        pool: PgPool,
        /// The one-row table the bare write updates: dropped by [`remove`](Floors::remove).
        table: String,
    },
    MySql {
        pool: MySqlPool,
        table: String,
    },
}

impl Floors {
    /// Redis floors through `conn`, reading `record` and writing under `key`.
    pub fn redis(conn: MultiplexedConnection, record: String, key: String) -> Self {
        Floors::Redis { conn, key, record }
    }

    /// PostgreSQL floors on a one-connection pool to `url`, writing to a new table `table`.
    pub async fn postgres(url: &str, table: String) -> Fallible<Self> {
        let pool = floor_pool(url, &table).await?;
        Ok(Floors::Postgres { pool, table })
    }

    /// MySQL or MariaDB floors on a one-connection pool to `url`, writing to a new table
    /// `table`.
    pub async fn mysql(url: &str, table: String) -> Fallible<Self> {
        let pool = floor_pool(url, &table).await?;
        Ok(Floors::MySql { pool, table })
    }

    /// The benchmark ids of the read and the write floor.
    pub fn names(&self) -> (&'static str, &'static str) {
        match self {
            Floors::Redis { .. } => ("HGETALL", "HSET"),
            _ => ("SELECT1", "UPDATE1"),
        }
    }

    /// A bare `PING` (Redis only; `None` elsewhere).
    pub async fn ping(&self) -> Option<()> {
        let Floors::Redis { conn, .. } = self else {
            return None;
        };
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn.clone())
            .await
            .expect("PING");
        black_box(pong);
        Some(())
    }

    /// One bare read.
    pub async fn read(&self) {
        match self {
            Floors::Redis { conn, record, .. } => {
                let fields: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
                    .arg(record)
                    .query_async(&mut conn.clone())
                    .await
                    .expect("HGETALL");
                assert!(!fields.is_empty(), "the record {record} exists");
                black_box(fields);
            }
            // PostgreSQL answers an `int4`, MariaDB a `bigint`.
            Floors::Postgres { pool, .. } => {
                let one: i32 = sqlx::query_scalar("SELECT 1")
                    .fetch_one(pool)
                    .await
                    .expect("SELECT 1");
                black_box(one);
            }
            Floors::MySql { pool, .. } => {
                let one: i64 = sqlx::query_scalar("SELECT 1")
                    .fetch_one(pool)
                    .await
                    .expect("SELECT 1");
                black_box(one);
            }
        }
    }

    /// One bare write.
    pub async fn write(&self) {
        match self {
            Floors::Redis { conn, key, .. } => {
                let added: i64 = redis::cmd("HSET")
                    .arg(key)
                    .arg("n")
                    .arg("1")
                    .query_async(&mut conn.clone())
                    .await
                    .expect("HSET");
                black_box(added);
                Ok(())
            }
            Floors::Postgres { pool, table } => execute(pool, &update(table)).await,
            Floors::MySql { pool, table } => execute(pool, &update(table)).await,
        }
        .expect("the bare write")
    }

    /// Removes what the write floor wrote.
    pub async fn remove(self) -> Fallible<()> {
        match self {
            Floors::Redis { mut conn, key, .. } => redis::cmd("DEL")
                .arg(&key)
                .query_async::<i64>(&mut conn)
                .await
                .map(|_| ())
                .map_err(|e| err("deleting the floor key", e)),
            Floors::Postgres { pool, table } => execute(&pool, &drop_table(&table)).await,
            Floors::MySql { pool, table } => execute(&pool, &drop_table(&table)).await,
        }
    }
}

/// A one-connection pool to `url` that does not ping before checkout, with the one-row table
/// `table` made for the bare write.
async fn floor_pool<DB: sqlx::Database>(url: &str, table: &str) -> Fallible<Pool<DB>>
where
    for<'c> &'c Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let pool = PoolOptions::<DB>::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect(url)
        .await
        .map_err(|e| err("floor pool", e))?;
    for sql in write_table(table) {
        execute(&pool, &sql).await?;
    }
    Ok(pool)
}

/// Runs one statement on `pool`.
async fn execute<DB: sqlx::Database>(pool: &Pool<DB>, sql: &str) -> Fallible<()>
where
    for<'c> &'c Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    sqlx::query(sql)
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| err(sql, e))
}

fn write_table(table: &str) -> [String; 2] {
    [
        format!("CREATE TABLE {table} (id INT PRIMARY KEY, n BIGINT NOT NULL)"),
        format!("INSERT INTO {table} (id, n) VALUES (1, 0)"),
    ]
}

fn update(table: &str) -> String {
    format!("UPDATE {table} SET n = n + 1 WHERE id = 1")
}

fn drop_table(table: &str) -> String {
    format!("DROP TABLE IF EXISTS {table}")
}

/// What a request costs beyond its floor, from `pairs` back-to-back pairs: the request, then
/// its floor. Quartiles of the differences, in ns.
pub struct AddedCost {
    pub p25: i64,
    pub median: i64,
    pub p75: i64,
    pub pairs: usize,
}

/// Times `pairs` requests, each followed by its floor.
pub async fn added_cost<R, F>(
    pairs: usize,
    mut request: impl FnMut() -> R,
    mut floor: impl FnMut() -> F,
) -> AddedCost
where
    R: Future<Output = ()>,
    F: Future<Output = ()>,
{
    let nanos =
        |from: Instant, to: Instant| i64::try_from((to - from).as_nanos()).unwrap_or(i64::MAX);
    let mut added = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let start = Instant::now();
        request().await;
        let between = Instant::now();
        floor().await;
        let end = Instant::now();
        added.push(nanos(start, between) - nanos(between, end));
    }
    added.sort_unstable();
    let at = |q: usize| added.get(pairs * q / 4).copied().unwrap_or_default();
    AddedCost {
        p25: at(1),
        median: at(2),
        p75: at(3),
        pairs,
    }
}

impl AddedCost {
    /// Saves the result beside criterion's, as `<target>/criterion/<store>/added/<route>/new/
    /// estimates.json` with criterion's `median.point_estimate`, for `summarize_stores.py`.
    pub fn save(&self, store: &str, route: &str) -> Fallible<()> {
        let dir = criterion_dir()?
            .join(store)
            .join("added")
            .join(route)
            .join("new");
        std::fs::create_dir_all(&dir).map_err(|e| err("creating the added-cost directory", e))?;
        let json = serde_json::json!({
            "median": { "point_estimate": self.median },
            "p25": self.p25,
            "p75": self.p75,
            "pairs": self.pairs,
        });
        std::fs::write(dir.join("estimates.json"), json.to_string())
            .map_err(|e| err("writing the added cost", e))
    }
}

/// Where criterion writes: `$CARGO_TARGET_DIR/criterion`, else `criterion` in the target
/// directory this bench runs from (`target/<profile>/deps/<bench>`).
fn criterion_dir() -> Fallible<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir).join("criterion"));
    }
    let exe = std::env::current_exe().map_err(|e| err("finding the bench binary", e))?;
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("criterion"))
        .ok_or_else(|| "the bench binary is not in target/<profile>/deps".to_owned())
}
