//! The floors under any stack on a network server: the store's own round trips, sent bare.
//!
//! * a read: what the store sends to load a session, for the session the pairs use: `HGETALL`
//!   of its record on Redis, the store's `SELECT … WHERE token_hash = … AND ended_at IS NULL`
//!   of its row on PostgreSQL and MariaDB (and `PING` on Redis, the least any round trip
//!   costs);
//! * a write: the store's kind of update of that session: on SQL a one-row `UPDATE` of its
//!   data by token hash, in autocommit; on Redis `HSET` of one field and `PEXPIRE` of the
//!   hash, pipelined (the store runs them inside a script);
//! * a creation: a new session's row `INSERT`ed with the store's columns and values; on Redis
//!   the commands of the store's creation script, pipelined in one round trip (`SET … NX PX`
//!   of the id index, `HSET` of the record's fields, `PEXPIRE`).
//!
//! Each goes through a connection of its own that pings neither before nor after. [`added_cost`] times a
//! request and its floor back to back, pair after pair, so the slow and fast phases of a
//! shared machine fall on both alike.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::Uri;
use axum::routing::get;
use axum::Router;
use redis::aio::MultiplexedConnection;
use sqlx::Connection;
use tokio::sync::Mutex;

use crate::store_cleanup::{delete_matching, err, Fallible};
use crate::{criterion_dir, quartiles};

/// The first bytes of the public id of every row the creation floor inserts, so that
/// [`Floors::tidy`] finds them (a real id starting so has odds of 2^-64).
const FLOOR_ID: &[u8; 8] = b"swfloor\0";

/// The floor commands of one server.
pub enum Floors {
    Redis {
        conn: MultiplexedConnection,
        /// The record of the session the stack's `/r` and `/rw` read.
        record: String,
        /// Where the bare writes and creations go: `<floor>:w`, `<floor>:<n>:s`, `<floor>:<n>:i`.
        floor: String,
        made: AtomicU64,
    },
    Postgres(SqlFloors<sqlx::Postgres>),
    MySql(SqlFloors<sqlx::MySql>),
}

/// The store's statements on its own table, and the token hash of the pairs' session.
///
/// They run on a connection of their own, not a pool: sqlx pings a connection as it is given
/// back to its pool, and with no other connection free the next statement would wait for that
/// ping, a second round trip (the store's pool has other connections to hand out meanwhile).
pub struct SqlFloors<DB: sqlx::Database> {
    conn: Mutex<DB::Connection>,
    hash: Vec<u8>,
    load: String,
    update: String,
    insert: String,
    tidy: String,
    made: AtomicU64,
    /// The rows a statement changed (each engine's result has its own method for it).
    rows: fn(&DB::QueryResult) -> u64,
}

impl Floors {
    /// Redis floors through `conn`, reading `record` and writing under `floor`.
    pub fn redis(conn: MultiplexedConnection, record: String, floor: String) -> Self {
        Floors::Redis {
            conn,
            record,
            floor,
            made: AtomicU64::new(0),
        }
    }

    /// PostgreSQL floors on a connection to `url`, on the store's table `table`,
    /// reading and updating the row of token hash `hash`.
    pub async fn postgres(url: &str, table: &str, hash: Vec<u8>) -> Fallible<Self> {
        let t = format!("\"{table}\"");
        Ok(Floors::Postgres(SqlFloors {
            conn: Mutex::new(connect::<sqlx::Postgres>(url).await?),
            hash,
            load: format!(
                "SELECT id, user_name, data::text, created_at, last_seen_at, expires_at, \
                 idle_expires_at, user_agent, ip, idle_timeout, persistent_cookie, ended_at, \
                 end_reason FROM {t} WHERE token_hash = $1 AND ended_at IS NULL"
            ),
            update: format!(
                "UPDATE {t} SET data = data || $1::jsonb WHERE token_hash = $2 AND ended_at IS NULL"
            ),
            insert: format!(
                "INSERT INTO {t} (token_hash, {COLUMNS}, deadline) \
                 VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ),
            tidy: format!("DELETE FROM {t} WHERE substring(id from 1 for 8) = $1"),
            made: AtomicU64::new(0),
            rows: sqlx::postgres::PgQueryResult::rows_affected,
        }))
    }

    /// MySQL or MariaDB floors on a connection to `url`, as [`postgres`](Self::postgres).
    pub async fn mysql(url: &str, table: &str, hash: Vec<u8>) -> Fallible<Self> {
        let t = format!("`{table}`");
        Ok(Floors::MySql(SqlFloors {
            conn: Mutex::new(connect::<sqlx::MySql>(url).await?),
            hash,
            load: format!(
                "SELECT {COLUMNS}, ended_at, end_reason FROM {t} \
                 WHERE token_hash = ? AND ended_at IS NULL"
            ),
            update: format!(
                "UPDATE {t} SET data = JSON_MERGE_PATCH(data, ?) \
                 WHERE token_hash = ? AND ended_at IS NULL"
            ),
            insert: format!(
                "INSERT INTO {t} (token_hash, {COLUMNS}, deadline) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            tidy: format!("DELETE FROM {t} WHERE LEFT(id, 8) = ?"),
            made: AtomicU64::new(0),
            rows: sqlx::mysql::MySqlQueryResult::rows_affected,
        }))
    }

    /// The benchmark ids of the read, the write and the creation floor.
    pub fn names(&self) -> [&'static str; 3] {
        match self {
            Floors::Redis { .. } => ["HGETALL", "HSET+PEXPIRE", "create-pipeline"],
            _ => ["SELECT", "UPDATE", "INSERT"],
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

    /// One bare read of the pairs' session.
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
            Floors::Postgres(sql) => sql.read().await,
            Floors::MySql(sql) => sql.read().await,
        }
    }

    /// One bare update: on SQL, of the pairs' session's data (a key of its own, `f`). Each
    /// writes a new value, as `/rw` does: MariaDB skips the write of a row left as it was.
    pub async fn write(&self) {
        match self {
            Floors::Redis {
                conn, floor, made, ..
            } => {
                let n = made.fetch_add(1, Ordering::Relaxed);
                let key = format!("{floor}:w");
                let (added, expiring): (i64, i64) = redis::pipe()
                    .cmd("HSET")
                    .arg(&key)
                    .arg("d:n")
                    .arg(n)
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(60_000)
                    .query_async(&mut conn.clone())
                    .await
                    .expect("HSET and PEXPIRE");
                black_box((added, expiring));
            }
            Floors::Postgres(sql) => sql.write().await,
            Floors::MySql(sql) => sql.write().await,
        }
    }

    /// One bare creation of a new anonymous session holding one value.
    pub async fn create(&self) {
        match self {
            Floors::Redis {
                conn, floor, made, ..
            } => {
                let n = made.fetch_add(1, Ordering::Relaxed);
                let (hash, id) = fake_hash_and_id(n);
                let hex = sessionward::token::TokenHash(hash).to_hex();
                // The store's metadata field: four 16-digit stamps and a 22-character id.
                let stamp = format!("{:016}", now_ms());
                let meta = format!("{stamp}{stamp}{stamp}{stamp}{}", &hex[..22]);
                black_box(id);
                let (claimed, _, expiring): (bool, i64, i64) = redis::pipe()
                    .cmd("SET")
                    .arg(format!("{floor}:{n}:i"))
                    .arg(&hex)
                    .arg("NX")
                    .arg("PX")
                    .arg(60_000)
                    .cmd("HSET")
                    .arg(format!("{floor}:{n}:s"))
                    .arg("m")
                    .arg(meta)
                    .arg("d:n")
                    .arg("0")
                    .cmd("PEXPIRE")
                    .arg(format!("{floor}:{n}:s"))
                    .arg(60_000)
                    .query_async(&mut conn.clone())
                    .await
                    .expect("the creation pipeline");
                assert!(claimed && expiring == 1, "a new floor record");
            }
            Floors::Postgres(sql) => sql.create().await,
            Floors::MySql(sql) => sql.create().await,
        }
    }

    /// The floor of `route`: `/r` a read, `/rw` a read and an update, `/new` a creation.
    pub async fn route(&self, route: &str) {
        match route {
            "r" => self.read().await,
            "rw" => {
                self.read().await;
                self.write().await;
            }
            "new" => self.create().await,
            other => panic!("no floor for /{other}"),
        }
    }

    /// Bare axum over the floors: `/r`, `/rw` and `/new`, each handler sending its route's
    /// floor. What a request costs beyond this is the session layer and the store's code alone,
    /// without axum's own share or the bench's.
    pub fn router(self: Arc<Self>) -> Router {
        async fn floor(State(floors): State<Arc<Floors>>, uri: Uri) -> &'static str {
            floors.route(uri.path().trim_start_matches('/')).await;
            "0"
        }
        Router::new()
            .route("/r", get(floor))
            .route("/rw", get(floor))
            .route("/new", get(floor))
            .with_state(self)
    }

    /// Deletes what the write and creation floors made, leaving the store's own sessions.
    pub async fn tidy(&self) -> Fallible<()> {
        match self {
            Floors::Redis { conn, floor, .. } => delete_matching(conn, &format!("{floor}:*")).await,
            Floors::Postgres(sql) => sql.tidy().await,
            Floors::MySql(sql) => sql.tidy().await,
        }
    }
}

/// The store's columns after the token hash, in the order its `INSERT` binds them.
const COLUMNS: &str = "id, user_name, data, created_at, last_seen_at, expires_at, \
     idle_expires_at, user_agent, ip, idle_timeout, persistent_cookie";

impl<DB> SqlFloors<DB>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<bool>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    async fn read(&self) {
        let row = sqlx::query(&self.load)
            .bind(self.hash.clone())
            .fetch_one(&mut *self.conn.lock().await)
            .await
            .expect("the store's SELECT");
        black_box(row);
    }

    /// The pairs' session's data gets `f` set to a value not written before: MariaDB skips the
    /// write of a row left as it was, which a session's `/rw` never does.
    async fn write(&self) {
        let n = self.made.fetch_add(1, Ordering::Relaxed);
        let done = sqlx::query(&self.update)
            .bind(format!(r#"{{"f": "{n}"}}"#))
            .bind(self.hash.clone())
            .execute(&mut *self.conn.lock().await)
            .await
            .expect("the store's kind of UPDATE");
        assert_eq!((self.rows)(&done), 1, "the pairs' session is updated");
    }

    /// A new anonymous session's row, holding one value, as the store inserts it (a `NULL`
    /// user binds as text on both engines: MariaDB's `BLOB` column takes it as well).
    async fn create(&self) {
        let (hash, id) = fake_hash_and_id(self.made.fetch_add(1, Ordering::Relaxed));
        let now = now_ms() as i64;
        let done = sqlx::query(&self.insert)
            .bind(hash.to_vec())
            .bind(id.to_vec())
            .bind(None::<String>)
            .bind(r#"{"n": "0"}"#.to_owned())
            .bind(now)
            .bind(now)
            .bind(now + 28_800_000)
            .bind(now + 1_800_000)
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(None::<i64>)
            .bind(None::<bool>)
            .bind(now + 1_800_000)
            .execute(&mut *self.conn.lock().await)
            .await
            .expect("the store's INSERT");
        black_box(done);
    }

    async fn tidy(&self) -> Fallible<()> {
        sqlx::query(&self.tidy)
            .bind(FLOOR_ID.to_vec())
            .execute(&mut *self.conn.lock().await)
            .await
            .map(drop)
            .map_err(|e| err("deleting the floor's rows", e))
    }
}

/// A token hash spread like a real one (a new row lands anywhere in the primary key, as a
/// SHA-256 does), and a public id starting with [`FLOOR_ID`], both from the counter `n`.
fn fake_hash_and_id(n: u64) -> ([u8; 32], [u8; 16]) {
    let mut hash = [0u8; 32];
    let mut state = n ^ 0x5357_464c_4f4f_5221;
    for chunk in hash.chunks_mut(8) {
        state = splitmix64(state);
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(FLOOR_ID);
    id[8..].copy_from_slice(&n.to_le_bytes());
    (hash, id)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// A connection to `url`, outside any pool.
async fn connect<DB: sqlx::Database>(url: &str) -> Fallible<DB::Connection> {
    DB::Connection::connect(url)
        .await
        .map_err(|e| err("floor connection", e))
}

/// What a request costs beyond its floor, from `pairs` back-to-back pairs: the request, then
/// its floor. Quartiles of the differences, in ns.
pub struct AddedCost {
    /// The 25th percentile of the differences.
    pub p25: f64,
    /// Their median.
    pub median: f64,
    /// The 75th percentile.
    pub p75: f64,
    /// How many pairs were timed.
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
    let mut added = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let start = Instant::now();
        request().await;
        let between = Instant::now();
        floor().await;
        let end = Instant::now();
        added.push((between - start).as_nanos() as f64 - (end - between).as_nanos() as f64);
    }
    let [p25, median, p75] = quartiles(&mut added);
    AddedCost {
        p25,
        median,
        p75,
        pairs,
    }
}

impl AddedCost {
    /// Saves the result beside criterion's, as `<target>/criterion/<store>/<what>/<route>/new/
    /// estimates.json` with criterion's `median.point_estimate`, for `summarize_stores.py`.
    pub fn save(&self, store: &str, what: &str, route: &str) -> Fallible<()> {
        let dir = criterion_dir()?
            .join(store)
            .join(what)
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
