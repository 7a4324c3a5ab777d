//! The SQLite store (feature `sqlite`): embedded, one file, sessions survive restarts.
//!
//! See [`SqliteStore`] for an example, the table layout and how each operation runs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow, SqliteSynchronous,
};

use super::connect;
use super::lanes::Lanes;
use super::patch::{Dialect, PatchStatements};
use crate::error::StoreError;
use crate::store::admission::{admit_in_steps, Admission, Admitted, SessionLimits};
use crate::store::connect_error::ConnectError;
use crate::store::sql::{self, EndStatements, InvalidTableName, Placeholder};
use crate::store::{SessionRecord, SessionStore};
use crate::token::TokenHash;

/// The schema version [`SqliteStore::migrate`] brings a table to.
const SCHEMA_VERSION: i64 = 3;

/// Sessions in a SQLite database file: embedded (no server), and persistent, so a
/// single-machine app keeps its sessions across restarts.
///
/// ```no_run
/// use std::time::Duration;
/// use sessionward::{store::{spawn_cleanup, SqliteStore}, SessionLayer};
///
/// # async fn run() -> Result<(), sessionward::StoreError> {
/// // Creates the file if needed (WAL mode) and the table: ready to use.
/// let store = SqliteStore::open("sessions.db").await?;
/// let _cleanup = spawn_cleanup(store.clone(), Duration::from_secs(300));
/// let layer = SessionLayer::new(store);
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
///
/// With a pool of your own (any options), or another table, call [`migrate`](Self::migrate)
/// yourself:
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionward::store::SqliteStore;
/// use sqlx::sqlite::SqlitePool;
///
/// let pool = SqlitePool::connect_with(SqliteStore::connect_options("app.db")).await?;
/// let store = SqliteStore::new(pool).with_table("web_sessions")?;
/// store.migrate().await?;
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
/// `sessionward_migrations (table_name TEXT PRIMARY KEY, version INTEGER NOT NULL)`:
///
/// ```sql
/// CREATE TABLE sessionward_sessions (
///     token_hash      BLOB    NOT NULL PRIMARY KEY, -- SHA-256 of the token (32 bytes), never the token
///     id              BLOB    NOT NULL UNIQUE,      -- public session id (16 bytes)
///     user_name       TEXT,                         -- index (user_name, created_at)
///     data            TEXT    NOT NULL,             -- {"key": "<the value's JSON text>", …}
///     created_at      INTEGER NOT NULL,             -- every time: Unix milliseconds
///     last_seen_at    INTEGER NOT NULL,
///     expires_at      INTEGER NOT NULL,
///     idle_expires_at INTEGER NOT NULL,
///     deadline        INTEGER NOT NULL,             -- min(expires_at, idle_expires_at), indexed
///     user_agent      TEXT,
///     ip              TEXT,
///     idle_timeout    INTEGER,                      -- ms, set with the next one by a timeout
///     persistent_cookie INTEGER,                    -- policy at login; NULL: the layer's own
///     ended_at        INTEGER,                      -- retention: when and why the session
///     end_reason      TEXT                          -- ended (`logged_out`, …); NULL: not ended
/// ) WITHOUT ROWID;
/// ```
///
/// Each value is kept as its JSON text inside a JSON string, so it reads back byte for byte and
/// a JSON `null` is never confused with a removal; from SQL, `data->>'key'` is its text.
///
/// # One statement per operation
///
/// Every [`SessionStore`] method is a single statement, so each is atomic on its own:
/// `update` is `UPDATE … SET data = json_patch(data, ?), … WHERE token_hash = ?` (a merge patch
/// with bound keys and values: concurrent requests that change different keys both keep
/// theirs, and a deleted row stays deleted), assigning only the columns the patch changes, so
/// that a change of data rewrites no index entry; `rotate` is the same `UPDATE` that also sets
/// `token_hash` (a clash with an existing key is a unique violation, reported as
/// [`StoreError::Conflict`]); `delete_expired` is `DELETE … WHERE deadline <= ?` on the
/// `deadline` index. `migrate` is one `BEGIN IMMEDIATE` transaction.
///
/// With [`with_retention`](Self::with_retention), [`end`](SessionStore::end) is one
/// `UPDATE … SET ended_at = ?, end_reason = ?, deadline = MIN(deadline, ?) WHERE … AND ended_at
/// IS NULL`; `load`, `update` and `rotate` add `AND ended_at IS NULL` to their key lookup, so
/// an ended row's token finds nothing, and `delete_expired` purges `deadline <= now - period`.
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Connections kept between the request path's statements.
    lanes: Lanes<sqlx::Sqlite>,
    sql: Arc<Statements>,
    /// Held around an admission: SQLite is one file, usually of one process, so a lock in
    /// the process (shared by clones) makes admissions atomic without holding a connection
    /// that the admission's own steps would then wait for.
    admit_lock: Arc<tokio::sync::Mutex<()>>,
    retention: Option<Duration>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.sql.table)
            .field("pool", &self.pool)
            .finish()
    }
}

impl SqliteStore {
    /// A store using `pool`, a pool of your own, with the table `sessionward_sessions`. Call
    /// [`migrate`](Self::migrate) before use.
    ///
    /// Requests' statements run on connections kept out of `pool` between them (at most half
    /// its size, while it has idle ones to spare), sparing the ping sqlx sends on each return.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::store::SqliteStore;
    /// use sqlx::sqlite::SqlitePoolOptions;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = SqlitePoolOptions::new()
    ///     .max_connections(4)
    ///     .connect_with(SqliteStore::connect_options("sessions.db"))
    ///     .await?;
    /// let store = SqliteStore::new(pool);
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            lanes: Lanes::new(),
            sql: Arc::new(Statements::new(sql::DEFAULT_TABLE)),
            admit_lock: Arc::default(),
            retention: None,
        }
    }

    /// Opens (creating it if missing) the database file at `path` with
    /// [`connect_options`](Self::connect_options), and migrates the table
    /// `sessionward_sessions`: the store is ready to use.
    ///
    /// # Errors
    /// [`StoreError::Backend`], with a message naming the path and the cause: an empty path or
    /// an in-memory database (`:memory:`, whose every pooled connection would see its own empty
    /// database: `MemoryStore` keeps sessions in memory), a file that cannot be opened or
    /// created (a directory, a missing folder, no permission, not a SQLite database), or a
    /// failed migration.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::{store::SqliteStore, SessionLayer};
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = SqliteStore::open("sessions.db").await?;
    /// let layer = SessionLayer::new(store);
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        check_path(path)?;
        let opened = async {
            let pool = sql::pool_options()
                .connect_with(Self::connect_options(path))
                .await
                .map_err(StoreError::backend)?;
            let store = Self::new(pool);
            store.migrate().await?;
            Ok::<_, StoreError>(store)
        };
        opened.await.map_err(|err| open_error(path, err))
    }

    /// The options [`open`](Self::open) uses: create the file if missing, WAL journal (readers
    /// never wait for the writer), `synchronous = NORMAL` (durable across an app crash; a
    /// power loss may undo the last writes), and a 5 s busy timeout for concurrent writers.
    /// Start from them to change one, then pass the pool to [`new`](Self::new).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sessionward::store::SqliteStore;
    /// use sqlx::sqlite::SqlitePool;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = SqliteStore::connect_options("sessions.db")
    ///     .busy_timeout(Duration::from_secs(10));
    /// let store = SqliteStore::new(SqlitePool::connect_with(options).await?);
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_options(path: impl AsRef<Path>) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
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
    /// use sessionward::store::SqliteStore;
    /// use sqlx::sqlite::SqlitePool;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = SqlitePool::connect_with(SqliteStore::connect_options("app.db")).await?;
    /// let store = SqliteStore::new(pool).with_table("web_sessions")?;
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
    /// use sessionward::store::SqliteStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = SqliteStore::open("sessions.db")
    ///     .await?
    ///     .with_retention(Duration::from_secs(86_400));
    /// # let _ = store;
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

    /// The connection pool (close it with
    /// [`close`](https://docs.rs/sqlx/0.8/sqlx/struct.Pool.html#method.close) before the
    /// process exits to checkpoint the WAL).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates the session table and its indexes, or upgrades them to this version's schema.
    /// Idempotent, and safe to call from several processes at once.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if a statement fails (nothing is changed then: the migration is
    /// one transaction), or if the table was migrated by a newer version of sessionward.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::store::SqliteStore;
    /// use sqlx::sqlite::SqlitePool;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = SqlitePool::connect_with(SqliteStore::connect_options("sessions.db")).await?;
    /// let store = SqliteStore::new(pool);
    /// store.migrate().await?; // at every start: does nothing once the table is up to date
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        // IMMEDIATE takes the write lock first, so concurrent migrations run one after another.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
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
        let version: i64 =
            sqlx::query_scalar("SELECT version FROM sessionward_migrations WHERE table_name = ?1")
                .bind(table)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::backend)?
                .unwrap_or(0);
        if version > SCHEMA_VERSION {
            return Err(sql::newer_schema(table, version, SCHEMA_VERSION));
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
            for statement in schema_v2(table) {
                sqlx::query(&statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::backend)?;
            }
        }
        if version < 3 {
            for statement in schema_v3(table) {
                sqlx::query(&statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::backend)?;
            }
        }
        sqlx::query(
            "INSERT INTO sessionward_migrations (table_name, version) VALUES (?1, ?2) \
             ON CONFLICT (table_name) DO UPDATE SET version = excluded.version",
        )
        .bind(table)
        .bind(SCHEMA_VERSION)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::backend)?;
        tx.commit().await.map_err(StoreError::backend)
    }
}

/// Refuses a path that [`SqliteStore::open`] would open without error but could not keep
/// sessions in: SQLite opens an empty name as a private temporary database, and an in-memory
/// one, per connection, so each pooled connection would see its own empty database.
fn check_path(path: &Path) -> Result<(), StoreError> {
    let text = path.to_string_lossy();
    if text.is_empty() {
        return Err(ConnectError::refused(
            "the SQLite database path is empty; give a file path, such as sessions.db",
        ));
    }
    let in_memory = text == ":memory:"
        || (text.starts_with("file:")
            && (text.contains(":memory:") || text.contains("mode=memory")));
    if in_memory {
        return Err(ConnectError::refused(format!(
            "the SQLite database {text} is in memory, so each pooled connection would see its \
             own empty database; give a file path, such as sessions.db, or use MemoryStore"
        )));
    }
    Ok(())
}

/// A failure of [`SqliteStore::open`], naming the path. SQLite says only "unable to open
/// database file" for a directory or a missing folder, so those are told apart here.
fn open_error(path: &Path, err: StoreError) -> StoreError {
    let StoreError::Backend(source) = err else {
        return err;
    };
    let folder = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    let why = if path.is_dir() {
        "it is a directory".to_owned()
    } else if let Some(dir) = folder.filter(|dir| !dir.exists()) {
        format!("its folder {} does not exist", dir.display())
    } else if let Some(err) = source.downcast_ref::<sqlx::Error>() {
        connect::cause(err)
    } else {
        source.to_string()
    };
    ConnectError::caused(
        format!("cannot open SQLite database {}: {why}", path.display()),
        source,
    )
}

/// Version 1 of the schema: the table and its indexes.
fn schema_v1(table: &str) -> [String; 3] {
    [
        format!(
            r#"CREATE TABLE "{table}" (
                token_hash BLOB NOT NULL PRIMARY KEY,
                id BLOB NOT NULL UNIQUE,
                user_name TEXT,
                data TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                last_seen_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                idle_expires_at INTEGER NOT NULL,
                deadline INTEGER NOT NULL,
                user_agent TEXT,
                ip TEXT
            ) WITHOUT ROWID"#
        ),
        format!(r#"CREATE INDEX "{table}_user_idx" ON "{table}" (user_name, created_at)"#),
        format!(r#"CREATE INDEX "{table}_deadline_idx" ON "{table}" (deadline)"#),
    ]
}

/// Version 2: the terms a timeout policy granted at login (`NULL`: the layer's timeouts).
fn schema_v2(table: &str) -> [String; 2] {
    [
        format!(r#"ALTER TABLE "{table}" ADD COLUMN idle_timeout INTEGER"#),
        format!(r#"ALTER TABLE "{table}" ADD COLUMN persistent_cookie INTEGER"#),
    ]
}

/// Version 3: the end of a session kept after it ended (retention; `NULL`: not ended).
fn schema_v3(table: &str) -> [String; 2] {
    [
        format!(r#"ALTER TABLE "{table}" ADD COLUMN ended_at INTEGER"#),
        format!(r#"ALTER TABLE "{table}" ADD COLUMN end_reason TEXT"#),
    ]
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

/// SQLite's spelling of a patch's functions.
const DIALECT: Dialect = Dialect {
    merge_patch: "json_patch",
    least: "MIN",
};

impl Statements {
    fn new(table: &str) -> Self {
        let t = format!("\"{table}\"");
        let select = format!("SELECT {}, {} FROM {t}", sql::COLUMNS, sql::END_COLUMNS);
        Self {
            table: table.to_owned(),
            insert: format!(
                "INSERT INTO {t} (token_hash, {}, deadline) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                sql::COLUMNS
            ),
            load: format!("{select} WHERE token_hash = ?1 AND ended_at IS NULL"),
            load_by_id: sql::load_by_id_sql(&select, "?1"),
            patch: PatchStatements::new(&DIALECT, &t),
            delete: format!("DELETE FROM {t} WHERE token_hash = ?1"),
            delete_by_id: format!("DELETE FROM {t} WHERE id = ?1"),
            count_by_user: format!(
                "SELECT COUNT(*) FROM {t} WHERE user_name = ?1 AND deadline > ?2"
            ),
            count_active: format!(
                "SELECT COUNT(*), COUNT(DISTINCT user_name) FROM {t} \
                 WHERE user_name IS NOT NULL AND deadline > ?1"
            ),
            delete_by_user: format!("DELETE FROM {t} WHERE user_name = ?1"),
            delete_by_user_except: format!("DELETE FROM {t} WHERE user_name = ?1 AND id <> ?2"),
            delete_expired: format!("DELETE FROM {t} WHERE deadline <= ?1"),
            end: EndStatements::new(&t, DIALECT.least, Placeholder::Question),
            select,
        }
    }
}

fn decode(row: &SqliteRow) -> Result<SessionRecord, StoreError> {
    sql::decode_row::<SqliteRow, String>(row)
}

fn decode_keyed(row: &SqliteRow) -> Result<(TokenHash, SessionRecord), StoreError> {
    sql::decode_keyed_row::<SqliteRow, String>(row)
}

impl SessionStore for SqliteStore {
    /// Atomic among the admissions of this process (every clone of this store): the steps
    /// run under one lock. Processes sharing a SQLite file are not serialised with each other.
    async fn admit(
        &self,
        user: &str,
        admission: Admission<'_>,
        limits: &SessionLimits,
        now: SystemTime,
    ) -> Result<Admitted, StoreError> {
        let _admitting = self.admit_lock.lock().await;
        admit_in_steps(self, user, admission, limits, now).await
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

    shaped_patch_operations!(user: sql::user_text);
    shared_sql_operations!(placeholder: Placeholder::Question, user: sql::user_text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_has_one_placeholder_per_column() {
        assert_eq!(Statements::new("t").insert.matches('?').count(), 13);
    }
}
