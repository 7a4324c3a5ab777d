//! The PostgreSQL store (feature `postgres`).
//!
//! See [`PostgresStore`] for an example, the table layout and how each operation runs.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlx::postgres::{PgConnectOptions, PgPool, PgRow, Postgres};

use super::admit::AdmitLocks;
use super::connect::{self, Server};
use super::lanes::Lanes;
use super::patch::PatchParams;
use super::postgres_patch::{bind_patch, pg_shape, PgPatchStatements};
use crate::error::StoreError;
use crate::store::admission::{admit_in_steps, Admission, Admitted, SessionLimits};
use crate::store::sql::{self, EndStatements, InvalidTableName, Placeholder};
use crate::store::{SessionPatch, SessionRecord, SessionStore};
use crate::token::TokenHash;

/// The schema version [`PostgresStore::migrate`] brings a table to.
const SCHEMA_VERSION: i32 = 3;
/// Key of the advisory lock that serialises concurrent `migrate` calls ("sesnward").
const MIGRATE_LOCK: i64 = 0x7365_736e_7761_7264;
/// How [`PostgresStore::connect`] names the server and the URLs it takes.
const SERVER: Server = Server {
    name: "PostgreSQL",
    schemes: &["postgres", "postgresql"],
    form: "postgres://user:password@host:port/database",
};

/// Sessions in a PostgreSQL table, through a
/// [`PgPool`](https://docs.rs/sqlx/0.8/sqlx/type.PgPool.html).
///
/// ```no_run
/// use std::time::Duration;
/// use sessionward::{store::{spawn_cleanup, PostgresStore}, SessionLayer};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::connect("postgres://app@127.0.0.1/app").await?;
/// store.migrate().await?; // once at startup: creates or upgrades the table
/// let _cleanup = spawn_cleanup(store.clone(), Duration::from_secs(300));
/// let layer = SessionLayer::new(store);
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
///
/// # Table layout
///
/// [`migrate`](Self::migrate) creates the table (`sessionward_sessions` unless
/// [`with_table`](Self::with_table) names another) and records its schema version in
/// `sessionward_migrations (table_name TEXT PRIMARY KEY, version INTEGER NOT NULL)`:
///
/// ```sql
/// CREATE TABLE sessionward_sessions (
///     token_hash      BYTEA  PRIMARY KEY,     -- SHA-256 of the token (32 bytes), never the token
///     id              BYTEA  NOT NULL UNIQUE, -- public session id (16 bytes)
///     user_name       TEXT,                   -- index (user_name, created_at DESC)
///     data            JSONB  NOT NULL,        -- {"key": "<the value's JSON text>", …}
///     created_at      BIGINT NOT NULL,        -- every time: Unix milliseconds
///     last_seen_at    BIGINT NOT NULL,
///     expires_at      BIGINT NOT NULL,
///     idle_expires_at BIGINT NOT NULL,
///     deadline        BIGINT NOT NULL,        -- min(expires_at, idle_expires_at), indexed
///     user_agent      TEXT,
///     ip              TEXT,
///     idle_timeout    BIGINT,                 -- ms, set with the next one by a timeout
///     persistent_cookie BOOLEAN,              -- policy at login; NULL: the layer's own
///     ended_at        BIGINT,                 -- retention: when and why the session ended
///     end_reason      TEXT                    -- (`logged_out`, …); NULL: not ended
/// );
/// ```
///
/// Each value is kept as its JSON text inside a JSON string, so it reads back byte for byte
/// (`jsonb` would normalise it); from SQL, `(data->>'key')::jsonb` is the value. PostgreSQL
/// text cannot hold U+0000: a data key or user name containing it fails with
/// [`StoreError::Backend`] (an escaped `\u0000` inside a value is fine).
///
/// # One statement per operation
///
/// Every [`SessionStore`] method is a single statement, so each is atomic on its own:
/// `update` is `UPDATE … SET data = data || $set WHERE token_hash = $1` (`- $removed` after
/// the merge when keys are removed), assigning only the columns the request changes (keys are
/// merged in the database, so concurrent requests that change different keys both keep theirs,
/// and a deleted row stays deleted); `rotate` is the same `UPDATE` that also sets
/// `token_hash` (a clash with an existing key is a unique violation, reported as
/// [`StoreError::Conflict`]); `delete_expired` is `DELETE … WHERE deadline <= $1` on the
/// `deadline` index. `migrate` runs in one transaction under an advisory lock.
///
/// Cloning shares the pool. Expired rows stay until
/// [`delete_expired`](SessionStore::delete_expired) runs: start
/// [`spawn_cleanup`](crate::store::spawn_cleanup).
///
/// With [`with_retention`](Self::with_retention), [`end`](SessionStore::end) is one
/// `UPDATE … SET ended_at = $1, end_reason = $2, deadline = LEAST(deadline, $3) WHERE … AND ended_at
/// IS NULL`; `load`, `update` and `rotate` add `AND ended_at IS NULL` to their key lookup, so
/// an ended row's token finds nothing, and `delete_expired` purges `deadline <= now - period`.
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct PostgresStore {
    pool: PgPool,
    /// Connections kept between the request path's statements.
    lanes: Lanes<Postgres>,
    sql: Arc<Statements>,
    admit_locks: AdmitLocks<Postgres>,
    retention: Option<Duration>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.sql.table)
            .field("pool", &self.pool)
            .finish()
    }
}

impl PostgresStore {
    /// A store using `pool`, a pool of your own (any options), with the table
    /// `sessionward_sessions`. Call [`migrate`](Self::migrate) before use.
    ///
    /// Requests' statements run on connections kept out of `pool` between them (at most half
    /// its size, while it has idle ones to spare), sparing the ping sqlx sends on each return.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sessionward::store::PostgresStore;
    /// use sqlx::postgres::PgPoolOptions;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = PgPoolOptions::new()
    ///     .max_connections(20)
    ///     .acquire_timeout(Duration::from_secs(2))
    ///     .connect("postgres://app:secret@127.0.0.1:5432/app")
    ///     .await?;
    /// let store = PostgresStore::new(pool);
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            lanes: Lanes::new(),
            sql: Arc::new(Statements::new(sql::DEFAULT_TABLE)),
            admit_locks: AdmitLocks::new(),
            retention: None,
        }
    }

    /// Connects a new pool to `url` (`postgres://user:password@host:port/database`, or
    /// `postgresql://…`; a `?host=/path` or a percent-encoded path as the host names a Unix
    /// socket).
    ///
    /// One connection is opened and closed first, so that a wrong setting fails here, at
    /// once, with the cause; the pool then opens connections as requests need them. A checkout
    /// waits at most 3 s for the server, and a connection idle for over a second is pinged
    /// before use. For other pool settings, build the pool yourself and use [`new`](Self::new).
    ///
    /// # Errors
    /// [`StoreError::Backend`], with a message naming the server's address and the cause
    /// (never the password): a URL that is not a PostgreSQL URL or does not parse, or a server
    /// that cannot be reached (connection refused, unknown host, no answer within 3 s) or
    /// refuses the login (unknown role, wrong password, unknown database). The server is not
    /// waited for: an app started before its database should retry.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::store::PostgresStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = PostgresStore::connect("postgres://app:secret@127.0.0.1:5432/app").await?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = connect::connect::<Postgres>(&SERVER, url, address).await?;
        Ok(Self::new(pool))
    }

    /// Uses the table `name` instead of `sessionward_sessions` (then migrate that table).
    ///
    /// # Errors
    /// [`InvalidTableName`] unless `name` matches `[a-z_][a-z0-9_]*` and has at most 48
    /// characters.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::store::PostgresStore;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = PostgresStore::connect("postgres://app:secret@127.0.0.1:5432/app")
    ///     .await?
    ///     .with_table("web_sessions")?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_table(mut self, name: &str) -> Result<Self, InvalidTableName> {
        sql::check_table(name)?;
        self.sql = Arc::new(Statements::new(name));
        Ok(self)
    }

    /// Keeps ended sessions (logged out, revoked, evicted, or expired) for `period`, marked
    /// with why and when they ended, so that admins can list them;
    /// [`delete_expired`](SessionStore::delete_expired) purges them once `period` has passed.
    /// Off by default (ending a session deletes its row); a zero `period` turns it off.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sessionward::store::PostgresStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/app")
    ///     .await?
    ///     .with_retention(Duration::from_secs(86_400));
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_retention(mut self, period: Duration) -> Self {
        self.retention = (!period.is_zero()).then_some(period);
        self
    }

    /// The session table's name.
    pub fn table(&self) -> &str {
        &self.sql.table
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the session table and its indexes, or upgrades them to this version's schema.
    /// Idempotent and safe to call from several processes at once; call it at startup.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if a statement fails (nothing is changed then: the migration is
    /// one transaction), or if the table was migrated by a newer version of sessionward.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::store::PostgresStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = PostgresStore::connect("postgres://app:secret@127.0.0.1:5432/app").await?;
    /// store.migrate().await?; // at every start: does nothing once the table is up to date
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::backend)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS sessionward_migrations \
             (table_name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(StoreError::backend)?;
        let table = self.table();
        let version: i32 =
            sqlx::query_scalar("SELECT version FROM sessionward_migrations WHERE table_name = $1")
                .bind(table)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::backend)?
                .unwrap_or(0);
        if version > SCHEMA_VERSION {
            return Err(sql::newer_schema(
                table,
                version.into(),
                SCHEMA_VERSION.into(),
            ));
        }
        if version == SCHEMA_VERSION {
            return Ok(()); // the transaction rolls back: nothing to do
        }
        if version < 1 {
            for statement in schema_v1(table) {
                sqlx::query(&statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::backend)?;
            }
        }
        if version < 2 {
            sqlx::query(&schema_v2(table))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::backend)?;
        }
        if version < 3 {
            sqlx::query(&schema_v3(table))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::backend)?;
        }
        sqlx::query(
            "INSERT INTO sessionward_migrations (table_name, version) VALUES ($1, $2) \
             ON CONFLICT (table_name) DO UPDATE SET version = EXCLUDED.version",
        )
        .bind(table)
        .bind(SCHEMA_VERSION)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::backend)?;
        tx.commit().await.map_err(StoreError::backend)
    }
}

/// Where `options` point, for messages: `host:port`, or the Unix socket's path (as sqlx
/// builds it: the directory given as the socket or host, then `.s.PGSQL.<port>`).
fn address(options: &PgConnectOptions) -> String {
    let (host, port) = (options.get_host(), options.get_port());
    match options.get_socket() {
        Some(dir) => format!("{}/.s.PGSQL.{port}", dir.display()),
        None if host.starts_with('/') => format!("{host}/.s.PGSQL.{port}"),
        None => format!("{host}:{port}"),
    }
}

/// Version 1 of the schema: the table and its indexes.
fn schema_v1(table: &str) -> [String; 3] {
    [
        format!(
            r#"CREATE TABLE "{table}" (
                token_hash BYTEA PRIMARY KEY,
                id BYTEA NOT NULL CONSTRAINT "{table}_id_key" UNIQUE,
                user_name TEXT,
                data JSONB NOT NULL,
                created_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                idle_expires_at BIGINT NOT NULL,
                deadline BIGINT NOT NULL,
                user_agent TEXT,
                ip TEXT
            )"#
        ),
        format!(r#"CREATE INDEX "{table}_user_idx" ON "{table}" (user_name, created_at DESC)"#),
        format!(r#"CREATE INDEX "{table}_deadline_idx" ON "{table}" (deadline)"#),
    ]
}

/// Version 2: the terms a timeout policy granted at login (`NULL`: the layer's timeouts).
fn schema_v2(table: &str) -> String {
    format!(
        r#"ALTER TABLE "{table}" ADD COLUMN idle_timeout BIGINT, ADD COLUMN persistent_cookie BOOLEAN"#
    )
}

/// Version 3: the end of a session kept after it ended (retention; `NULL`: not ended).
fn schema_v3(table: &str) -> String {
    format!(r#"ALTER TABLE "{table}" ADD COLUMN ended_at BIGINT, ADD COLUMN end_reason TEXT"#)
}

/// The SQL text of every operation, for one table.
struct Statements {
    table: String,
    select: String,
    insert: String,
    load: String,
    load_by_id: String,
    /// `update` and `rotate`, one statement per shape of patch.
    patch: PgPatchStatements,
    delete: String,
    delete_by_id: String,
    count_by_user: String,
    count_active: String,
    delete_by_user: String,
    delete_by_user_except: String,
    delete_expired: String,
    end: EndStatements,
}

impl Statements {
    fn new(table: &str) -> Self {
        let t = format!("\"{table}\"");
        let select = format!(
            "SELECT id, user_name, data::text, created_at, last_seen_at, expires_at, \
             idle_expires_at, user_agent, ip, idle_timeout, persistent_cookie, {} FROM {t}",
            sql::END_COLUMNS
        );
        Self {
            table: table.to_owned(),
            insert: format!(
                "INSERT INTO {t} (token_hash, {columns}, deadline) \
                 VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                columns = sql::COLUMNS
            ),
            // An ended session (kept for listing) is never found by its token, nor changed.
            load: format!("{select} WHERE token_hash = $1 AND ended_at IS NULL"),
            load_by_id: sql::load_by_id_sql(&select, "$1"),
            patch: PgPatchStatements::new(&t),
            delete: format!("DELETE FROM {t} WHERE token_hash = $1"),
            delete_by_id: format!("DELETE FROM {t} WHERE id = $1"),
            count_by_user: format!(
                "SELECT COUNT(*) FROM {t} WHERE user_name = $1 AND deadline > $2"
            ),
            count_active: format!(
                "SELECT COUNT(*), COUNT(DISTINCT user_name) FROM {t} \
                 WHERE user_name IS NOT NULL AND deadline > $1"
            ),
            delete_by_user: format!("DELETE FROM {t} WHERE user_name = $1"),
            delete_by_user_except: format!("DELETE FROM {t} WHERE user_name = $1 AND id <> $2"),
            delete_expired: format!("DELETE FROM {t} WHERE deadline <= $1"),
            end: EndStatements::new(&t, "LEAST", Placeholder::Dollar),
            select,
        }
    }
}

fn decode(row: &PgRow) -> Result<SessionRecord, StoreError> {
    sql::decode_row::<PgRow, String>(row)
}

fn decode_keyed(row: &PgRow) -> Result<(TokenHash, SessionRecord), StoreError> {
    sql::decode_keyed_row::<PgRow, String>(row)
}

impl SessionStore for PostgresStore {
    /// Atomic: the steps run while a transaction-scoped advisory lock is held (per user, or
    /// per table with a store-wide limit), on a connection of a small lock pool of its own.
    async fn admit(
        &self,
        user: &str,
        admission: Admission<'_>,
        limits: &SessionLimits,
        now: SystemTime,
    ) -> Result<Admitted, StoreError> {
        let name = limits.lock_scope(user).name(&self.sql.table);
        let mut lock = self
            .admit_locks
            .pool(&self.pool)
            .begin()
            .await
            .map_err(sql::db_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(&name)
            .execute(&mut *lock)
            .await
            .map_err(sql::db_error)?;
        let admitted = admit_in_steps(self, user, admission, limits, now).await;
        // Ending the transaction releases the lock; were that to fail, the connection is
        // gone, and the lock with it.
        let _ = lock.commit().await;
        admitted
    }

    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        let (idle_timeout, persistent_cookie) = sql::terms_columns(&record);
        let query = sqlx::query(&self.sql.insert)
            .bind(&key.0[..])
            .bind(&record.id.0[..])
            .bind(record.user.as_deref())
            .bind(sql::encode_data(&record.data)?)
            .bind(sql::millis(record.created_at))
            .bind(sql::millis(record.last_seen_at))
            .bind(sql::millis(record.expires_at))
            .bind(sql::millis(record.idle_expires_at))
            .bind(record.user_agent.as_deref())
            .bind(record.ip.map(|ip| ip.to_string()))
            .bind(idle_timeout)
            .bind(persistent_cookie)
            .bind(sql::deadline_millis(&record));
        self.lanes
            .execute(&self.pool, query)
            .await
            .map_err(sql::db_error)?;
        Ok(())
    }

    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let query = sqlx::query(&self.sql.load).bind(&key.0[..]);
        let row = self
            .lanes
            .fetch_optional(&self.pool, query)
            .await
            .map_err(sql::db_error)?;
        row.as_ref().map(decode).transpose()
    }

    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        let params = PatchParams::new(patch);
        let shape = pg_shape(&params);
        let query = sqlx::query(self.sql.patch.update(shape)).bind(&key.0[..]);
        let query = bind_patch(query, &params, shape)?;
        let done = self
            .lanes
            .execute(&self.pool, query)
            .await
            .map_err(sql::db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        let params = PatchParams::new(patch);
        let shape = pg_shape(&params);
        let query = sqlx::query(self.sql.patch.rotate(shape))
            .bind(&old.0[..])
            .bind(&new.0[..]);
        let query = bind_patch(query, &params, shape)?;
        let done = self
            .lanes
            .execute(&self.pool, query)
            .await
            .map_err(sql::db_error)?;
        Ok(done.rows_affected() > 0)
    }

    shared_sql_operations!(placeholder: Placeholder::Dollar, user: sql::user_text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_insert_numbers_its_thirteen_parameters() {
        let sql = Statements::new("t");
        assert_eq!(sql.insert.matches('$').count(), 13);
    }
}
