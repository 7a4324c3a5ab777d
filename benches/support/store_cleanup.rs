//! What a store bench's stack created in its store (tables, schemas, keys, files), and how to
//! remove it: emptied after every sample, removed at the end.

use std::path::PathBuf;

use axum::http::HeaderValue;
use sqlx::mysql::MySqlPool;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

/// What a stack created in its store, and how to remove it.
pub enum Cleanup {
    /// A table (sessionward) or schema (tower-sessions): emptied with `truncate`, removed with
    /// `teardown`.
    Postgres {
        pool: PgPool,
        truncate: String,
        teardown: Vec<String>,
    },
    MySql {
        pool: MySqlPool,
        truncate: String,
        teardown: Vec<String>,
    },
    /// A temp file of its own: emptied with `truncate`, deleted at the end.
    Sqlite {
        pool: SqlitePool,
        truncate: String,
        file: PathBuf,
    },
    /// sessionward's keys: everything under a prefix of this run's own.
    RedisPrefix {
        conn: redis::aio::MultiplexedConnection,
        pattern: String,
    },
    /// tower-sessions' keys: the bare session ids, known from the cookies of the responses.
    RedisIds {
        conn: redis::aio::MultiplexedConnection,
    },
}

pub type Fallible<T> = Result<T, String>;

/// `what: e`, the message of a failed setup or cleanup step.
pub fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Cleanup {
    /// Removes the sessions created so far; `cookies` are the cookies the stack sent back.
    pub async fn empty(&self, cookies: &[HeaderValue]) -> Fallible<()> {
        match self {
            Cleanup::Postgres { pool, truncate, .. } => {
                sqlx::query(truncate).execute(pool).await.map(drop)
            }
            Cleanup::MySql { pool, truncate, .. } => {
                sqlx::query(truncate).execute(pool).await.map(drop)
            }
            Cleanup::Sqlite { pool, truncate, .. } => {
                sqlx::query(truncate).execute(pool).await.map(drop)
            }
            Cleanup::RedisPrefix { conn, pattern } => return delete_matching(conn, pattern).await,
            Cleanup::RedisIds { conn } => {
                let keys: Vec<&[u8]> = cookies
                    .iter()
                    .filter_map(|c| c.as_bytes().strip_prefix(b"id="))
                    .collect();
                return delete_keys(conn, &keys).await;
            }
        }
        .map_err(|e| err("emptying the store", e))
    }

    /// Removes everything the stack created: sessions, tables, schemas, migration rows, files.
    pub async fn teardown(self, cookies: &[HeaderValue]) -> Fallible<()> {
        let emptied = self.empty(cookies).await;
        let dropped = self.drop_objects().await;
        emptied.and(dropped)
    }

    /// Drops the tables, schemas and migration rows, or deletes the file (nothing for Redis,
    /// which [`empty`](Self::empty) cleans), and closes the pool.
    pub async fn drop_objects(&self) -> Fallible<()> {
        match self {
            Cleanup::Postgres { pool, teardown, .. } => run_then_close(pool, teardown).await,
            Cleanup::MySql { pool, teardown, .. } => run_then_close(pool, teardown).await,
            Cleanup::Sqlite { pool, file, .. } => {
                pool.close().await;
                remove_sqlite_files(file);
                Ok(())
            }
            Cleanup::RedisPrefix { .. } | Cleanup::RedisIds { .. } => Ok(()),
        }
    }
}

/// Runs every one of `statements` on `pool`, then closes it: the first failure, if any, once
/// all have run.
async fn run_then_close<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    statements: &[String],
) -> Fallible<()>
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let mut result = Ok(());
    for statement in statements {
        let done = sqlx::query(statement).execute(pool).await;
        result = result.and(done.map(drop).map_err(|e| err(statement, e)));
    }
    pool.close().await;
    result
}

/// Deletes a SQLite database file and its companions.
pub fn remove_sqlite_files(file: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut path = file.as_os_str().to_owned();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
}

/// Deletes `keys`, a thousand at a time.
async fn delete_keys(conn: &redis::aio::MultiplexedConnection, keys: &[&[u8]]) -> Fallible<()> {
    let mut conn = conn.clone();
    for chunk in keys.chunks(1000) {
        redis::cmd("UNLINK")
            .arg(chunk)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|e| err("UNLINK", e))?;
    }
    Ok(())
}

/// Deletes every key matching `pattern`.
pub async fn delete_matching(
    conn: &redis::aio::MultiplexedConnection,
    pattern: &str,
) -> Fallible<()> {
    let mut conn = conn.clone();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .map_err(|e| err("SCAN", e))?;
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        delete_keys(&conn, &keys).await?;
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}
