//! The MySQL and MariaDB store (feature `mysql`).
//!
//! See [`MySqlStore`] for an example, the table layout and how each operation runs.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlRow};

use super::admit::{AdmitLocks, NamedLock};
use super::connect::{self, Server};
use super::lanes::Lanes;
use super::patch::{Dialect, PatchStatements};
use crate::error::StoreError;
use crate::store::admission::{admit_in_steps, Admission, Admitted, SessionLimits};
use crate::store::sql::{self, EndStatements, InvalidTableName, Placeholder};
use crate::store::{SessionRecord, SessionStore};
use crate::token::TokenHash;

/// The schema version [`MySqlStore::migrate`] brings a table to.
const SCHEMA_VERSION: i32 = 3;
/// The server-wide lock that serialises concurrent `migrate` calls.
const MIGRATE_LOCK: &str = "sessionward_migrate";
/// How long `migrate` waits for another process's migration, in seconds.
const MIGRATE_LOCK_WAIT: i64 = 60;
/// How [`MySqlStore::connect`] names the server and the URLs it takes.
const SERVER: Server = Server {
    name: "MySQL",
    schemes: &["mysql", "mariadb"],
    form: "mysql://user:password@host:port/database",
};

/// Sessions in a MySQL (8.0.16 or later) or MariaDB (10.3 or later) table, through a
/// [`MySqlPool`](https://docs.rs/sqlx/0.8/sqlx/type.MySqlPool.html).
///
/// ```no_run
/// use std::time::Duration;
/// use sessionward::{store::{spawn_cleanup, MySqlStore}, SessionLayer};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MySqlStore::connect("mysql://app@127.0.0.1:3306/app")
///     .await?
///     .with_table("web_sessions")?; // optional: the default is sessionward_sessions
/// store.migrate().await?; // once at startup: creates or upgrades the table
/// let _cleanup = spawn_cleanup(store.clone(), Duration::from_secs(300));
/// let layer = SessionLayer::new(store);
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
///
/// Cloning shares the pool. Expired rows stay until
/// [`delete_expired`](SessionStore::delete_expired) runs: start
/// [`spawn_cleanup`](crate::store::spawn_cleanup).
///
/// # Table layout
///
/// [`migrate`](Self::migrate) creates the table (`sessionward_sessions` unless
/// [`with_table`](Self::with_table) names another) and records its schema version in
/// `sessionward_migrations (table_name VARCHAR(64) PRIMARY KEY, version INT NOT NULL)`:
///
/// ```sql
/// CREATE TABLE sessionward_sessions (
///     token_hash      BINARY(32) NOT NULL PRIMARY KEY, -- SHA-256 of the token, never the token
///     id              BINARY(16) NOT NULL UNIQUE,      -- public session id
///     user_name       BLOB,          -- UTF-8, compared byte for byte; index (user_name(255), created_at)
///     data            LONGTEXT NOT NULL CHECK (JSON_VALID(data)), -- {"key": "<the value's JSON text>", …}
///     created_at      BIGINT NOT NULL, -- every time: Unix milliseconds
///     last_seen_at    BIGINT NOT NULL,
///     expires_at      BIGINT NOT NULL,
///     idle_expires_at BIGINT NOT NULL,
///     deadline        BIGINT NOT NULL, -- min(expires_at, idle_expires_at), indexed
///     user_agent      TEXT,
///     ip              VARCHAR(45),
///     idle_timeout    BIGINT,          -- ms, set with the next one by a timeout policy at
///     persistent_cookie BOOLEAN,       -- login; NULL: the layer's own timeouts
///     ended_at        BIGINT,          -- retention: when and why the session ended
///     end_reason      VARCHAR(32)      -- (`logged_out`, …); NULL: not ended
/// ) ENGINE = InnoDB, DEFAULT CHARSET = utf8mb4;
/// ```
///
/// The user name is a `BLOB` because text columns compare with a collation: `'bob'` would
/// match `'Bob'` or `'bob '`, and one user would see another's sessions. Each data value is
/// kept as its JSON text inside a JSON string, so it reads back byte for byte (MySQL's `JSON`
/// type normalises values) and a JSON `null` is never confused with a removal; from SQL,
/// `JSON_UNQUOTE(JSON_EXTRACT(data, '$.key'))` is its text.
///
/// # One statement per operation
///
/// Every [`SessionStore`] method is a single statement, so each is atomic on its own:
/// `update` is `UPDATE … SET data = JSON_MERGE_PATCH(data, ?), … WHERE token_hash = ?` (a merge
/// patch with bound keys and values: concurrent requests that change different keys both keep
/// theirs, and a deleted row stays deleted), assigning only the columns the patch changes;
/// `rotate` is the same `UPDATE` that also sets `token_hash` (a clash with an existing key is a
/// duplicate-key error, reported as [`StoreError::Conflict`]); `delete_expired` is
/// `DELETE … WHERE deadline <= ?` on the `deadline` index. MySQL commits DDL at once, so
/// `migrate` is not one transaction: it runs under `GET_LOCK`, and each step can be run again
/// after a failure.
///
/// With [`with_retention`](Self::with_retention), [`end`](SessionStore::end) is one
/// `UPDATE … SET ended_at = ?, end_reason = ?, deadline = LEAST(deadline, ?) WHERE … AND ended_at
/// IS NULL`; `load`, `update` and `rotate` add `AND ended_at IS NULL` to their key lookup, so
/// an ended row's token finds nothing, and `delete_expired` purges `deadline <= now - period`.
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub struct MySqlStore {
    pool: MySqlPool,
    /// Connections kept between the request path's statements.
    lanes: Lanes<MySql>,
    sql: Arc<Statements>,
    admit_locks: AdmitLocks<MySql>,
    retention: Option<Duration>,
}

impl std::fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlStore")
            .field("table", &self.sql.table)
            .field("pool", &self.pool)
            .finish()
    }
}

impl MySqlStore {
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
    /// use sessionward::store::MySqlStore;
    /// use sqlx::mysql::MySqlPoolOptions;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = MySqlPoolOptions::new()
    ///     .max_connections(20)
    ///     .acquire_timeout(Duration::from_secs(2))
    ///     .connect("mysql://app:secret@127.0.0.1:3306/app")
    ///     .await?;
    /// let store = MySqlStore::new(pool);
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: MySqlPool) -> Self {
        Self {
            pool,
            lanes: Lanes::new(),
            sql: Arc::new(Statements::new(sql::DEFAULT_TABLE)),
            admit_locks: AdmitLocks::new(),
            retention: None,
        }
    }

    /// Connects a new pool to `url` (`mysql://user:password@host:port/database`, or
    /// `mariadb://…`; `?socket=/path` names a Unix socket).
    ///
    /// One connection is opened and closed first, so that a wrong setting fails here, at
    /// once, with the cause; the pool then opens connections as requests need them. A checkout
    /// waits at most 3 s for the server, and a connection idle for over a second is pinged
    /// before use. For other pool settings, build the pool yourself and use [`new`](Self::new).
    ///
    /// # Errors
    /// [`StoreError::Backend`], with a message naming the server's address and the cause
    /// (never the password): a URL that is not a MySQL URL or does not parse, or a server that
    /// cannot be reached (connection refused, unknown host, no answer within 3 s) or refuses
    /// the login (access denied, unknown database). The server is not waited for: an app
    /// started before its database should retry.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::store::MySqlStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = MySqlStore::connect("mysql://app:secret@127.0.0.1:3306/app").await?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = connect::connect::<MySql>(&SERVER, url, address).await?;
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
    /// use sessionward::store::MySqlStore;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = MySqlStore::connect("mysql://app:secret@127.0.0.1:3306/app")
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
    /// use sessionward::store::MySqlStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = MySqlStore::connect("mysql://root@127.0.0.1:3306/app")
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
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Creates the session table and its indexes, or upgrades them to this version's schema.
    /// Idempotent, and safe to call from several processes at once (they take turns under
    /// `GET_LOCK('sessionward_migrate')`); call it at startup.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if a statement fails or the lock is not granted within 60 s, or
    /// if the table was migrated by a newer version of sessionward.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::store::MySqlStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = MySqlStore::connect("mysql://app:secret@127.0.0.1:3306/app").await?;
    /// store.migrate().await?; // at every start: does nothing once the table is up to date
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(StoreError::backend)?;
        let granted: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(MIGRATE_LOCK)
            .bind(MIGRATE_LOCK_WAIT)
            .fetch_one(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
        if granted != Some(1) {
            return Err(StoreError::backend(format!(
                "migrate: lock {MIGRATE_LOCK} not granted within {MIGRATE_LOCK_WAIT} s"
            )));
        }
        let migrated = migrate_locked(&mut conn, self.table()).await;
        let released = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(MIGRATE_LOCK)
            .execute(&mut *conn)
            .await;
        if released.is_err() {
            // The lock lives as long as the connection: never hand it back to the pool.
            conn.close_on_drop();
        }
        migrated
    }
}

/// The migration proper, run while holding the lock on `conn`.
async fn migrate_locked(conn: &mut MySqlConnection, table: &str) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS sessionward_migrations (\
         table_name VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY, \
         version INT NOT NULL) ENGINE = InnoDB",
    )
    .execute(&mut *conn)
    .await
    .map_err(StoreError::backend)?;
    let version: i32 =
        sqlx::query_scalar("SELECT version FROM sessionward_migrations WHERE table_name = ?")
            .bind(table)
            .fetch_optional(&mut *conn)
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
        return Ok(());
    }
    if version < 1 {
        sqlx::query(&schema_v1(table))
            .execute(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
    }
    if version < 2 {
        // MySQL commits each DDL statement on its own: a run stopped between this and the
        // version row below finds the columns already there next time.
        let present: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'idle_timeout'",
        )
        .bind(table)
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::backend)?;
        if present == 0 {
            sqlx::query(&schema_v2(table))
                .execute(&mut *conn)
                .await
                .map_err(StoreError::backend)?;
        }
    }
    if version < 3 && !has_column(conn, table, "ended_at").await? {
        sqlx::query(&schema_v3(table))
            .execute(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
    }
    sqlx::query(
        "INSERT INTO sessionward_migrations (table_name, version) VALUES (?, ?) \
         ON DUPLICATE KEY UPDATE version = ?",
    )
    .bind(table)
    .bind(SCHEMA_VERSION)
    .bind(SCHEMA_VERSION)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::backend)?;
    Ok(())
}

/// Where `options` point, for messages: `host:port`, or the Unix socket's path.
fn address(options: &MySqlConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// Version 1 of the schema: the table with its indexes, in one re-runnable statement.
///
/// Text columns use a case-insensitive collation on purpose: they are never compared, and
/// MySQL flags `_bin` collations as binary, which the driver refuses to read as text.
fn schema_v1(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS `{table}` (
            token_hash BINARY(32) NOT NULL,
            id BINARY(16) NOT NULL,
            user_name BLOB NULL,
            data LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL
                CHECK (JSON_VALID(data)),
            created_at BIGINT NOT NULL,
            last_seen_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            idle_expires_at BIGINT NOT NULL,
            deadline BIGINT NOT NULL,
            user_agent TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
            ip VARCHAR(45) CHARACTER SET ascii COLLATE ascii_general_ci NULL,
            PRIMARY KEY (token_hash),
            UNIQUE KEY `{table}_id_key` (id),
            KEY `{table}_user_idx` (user_name(255), created_at),
            KEY `{table}_deadline_idx` (deadline)
        ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci"
    )
}

/// Version 2: the terms a timeout policy granted at login (`NULL`: the layer's timeouts).
fn schema_v2(table: &str) -> String {
    format!(
        "ALTER TABLE `{table}` ADD COLUMN idle_timeout BIGINT NULL, \
         ADD COLUMN persistent_cookie BOOLEAN NULL"
    )
}

/// Version 3: the end of a session kept after it ended (retention; `NULL`: not ended).
fn schema_v3(table: &str) -> String {
    format!(
        "ALTER TABLE `{table}` ADD COLUMN ended_at BIGINT NULL, \
         ADD COLUMN end_reason VARCHAR(32) CHARACTER SET ascii NULL"
    )
}

/// Whether `table` has the column `name` already: MySQL commits each DDL statement on its
/// own, so a migration stopped before its version row finds its columns there next time.
async fn has_column(
    conn: &mut MySqlConnection,
    table: &str,
    name: &str,
) -> Result<bool, StoreError> {
    let present: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
    )
    .bind(table)
    .bind(name)
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::backend)?;
    Ok(present > 0)
}

/// The SQL text of every operation, for one table.
struct Statements {
    table: String,
    select: String,
    insert: String,
    load: String,
    load_by_id: String,
    /// `update` and `rotate`.
    patch: PatchStatements,
    delete: String,
    delete_by_id: String,
    count_by_user: String,
    count_active: String,
    delete_by_user: String,
    delete_by_user_except: String,
    delete_expired: String,
    end: EndStatements,
}

/// MySQL's spelling of a patch's functions.
const DIALECT: Dialect = Dialect {
    merge_patch: "JSON_MERGE_PATCH",
    least: "LEAST",
};

impl Statements {
    fn new(table: &str) -> Self {
        let t = format!("`{table}`");
        let select = format!("SELECT {}, {} FROM {t}", sql::COLUMNS, sql::END_COLUMNS);
        Self {
            table: table.to_owned(),
            insert: format!(
                "INSERT INTO {t} (token_hash, {}, deadline) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                sql::COLUMNS
            ),
            // An ended session (kept for listing) is never found by its token.
            load: format!("{select} WHERE token_hash = ? AND ended_at IS NULL"),
            load_by_id: sql::load_by_id_sql(&select, "?"),
            patch: PatchStatements::new(&DIALECT, &t),
            delete: format!("DELETE FROM {t} WHERE token_hash = ?"),
            delete_by_id: format!("DELETE FROM {t} WHERE id = ?"),
            count_by_user: format!("SELECT COUNT(*) FROM {t} WHERE user_name = ? AND deadline > ?"),
            count_active: format!(
                "SELECT COUNT(*), COUNT(DISTINCT user_name) FROM {t} \
                 WHERE user_name IS NOT NULL AND deadline > ?"
            ),
            delete_by_user: format!("DELETE FROM {t} WHERE user_name = ?"),
            delete_by_user_except: format!("DELETE FROM {t} WHERE user_name = ? AND id <> ?"),
            delete_expired: format!("DELETE FROM {t} WHERE deadline <= ?"),
            end: EndStatements::new(&t, DIALECT.least, Placeholder::Question),
            select,
        }
    }
}

/// A user name as the user column binds it: a `BLOB`, so it compares byte for byte.
fn user_bytes(user: &str) -> &[u8] {
    user.as_bytes()
}

fn decode(row: &MySqlRow) -> Result<SessionRecord, StoreError> {
    sql::decode_row::<MySqlRow, Vec<u8>>(row)
}

fn decode_keyed(row: &MySqlRow) -> Result<(TokenHash, SessionRecord), StoreError> {
    sql::decode_keyed_row::<MySqlRow, Vec<u8>>(row)
}

impl SessionStore for MySqlStore {
    /// Atomic: the steps run while a named lock (`GET_LOCK`, per user, or per table with a
    /// store-wide limit) is held, on a connection of a small lock pool of its own.
    async fn admit(
        &self,
        user: &str,
        admission: Admission<'_>,
        limits: &SessionLimits,
        now: SystemTime,
    ) -> Result<Admitted, StoreError> {
        let name = limits.lock_scope(user).name(&self.sql.table);
        let lock = NamedLock::take(self.admit_locks.pool(&self.pool), &name).await?;
        let admitted = admit_in_steps(self, user, admission, limits, now).await;
        lock.release(&name).await;
        admitted
    }

    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        let (idle_timeout, persistent_cookie) = sql::terms_columns(&record);
        let query = sqlx::query(&self.sql.insert)
            .bind(&key.0[..])
            .bind(&record.id.0[..])
            .bind(record.user.as_deref().map(str::as_bytes))
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

    shaped_patch_operations!(user: user_bytes);
    shared_sql_operations!(placeholder: Placeholder::Question, user: user_bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_has_one_placeholder_per_column() {
        assert_eq!(Statements::new("t").insert.matches('?').count(), 13);
    }
}
