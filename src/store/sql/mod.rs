//! The SQL stores: one module per engine (`sqlite`, `postgres`, `mysql`) and what they share.
//!
//! Here: table names, timestamps, row decoding, listing queries, error mapping and pool
//! options. Beside it, a file each: the data column's encoding (`data_column`), the operations
//! every engine runs alike (`operations`, a macro), the statements of a patch (`patch`, and
//! `postgres_patch` for PostgreSQL's numbered parameters), connecting (`connect`), the
//! connections the request path keeps (`lanes`) and the locks that make a login's admission
//! atomic (`admit`).

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{ColumnIndex, Decode, Row, Type};

// What the engines share first: `operations` defines the macro they expand.
#[macro_use]
mod operations;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod admit;
mod connect;
mod data_column;
mod lanes;
mod patch;
// The engines, each behind its feature.
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_patch;
#[cfg(feature = "sqlite")]
mod sqlite;

pub(crate) use data_column::{decode_data, encode_data, to_json};
#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use super::{EndReason, EndTarget, Ended, SessionQuery, SessionRecord, SessionState, SessionTerms};
use crate::error::StoreError;
use crate::token::{SessionId, TokenHash};

/// The session table when none is configured.
pub(crate) const DEFAULT_TABLE: &str = "sessionward_sessions";
/// The table that records each session table's schema version.
pub(crate) const MIGRATIONS_TABLE: &str = "sessionward_migrations";
/// Longest table name: leaves room for index names (PostgreSQL and MySQL allow 63 and 64).
const MAX_TABLE_LEN: usize = 48;

/// A table name that a SQL store's `with_table` refused: it must match `[a-z_][a-z0-9_]*`, be
/// at most 48 characters long and not be `sessionward_migrations`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql")))
)]
pub struct InvalidTableName(String);

impl InvalidTableName {
    /// The refused name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvalidTableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid session table name {:?}: expected [a-z_][a-z0-9_]*, at most {MAX_TABLE_LEN} \
             characters, other than {MIGRATIONS_TABLE}",
            self.0
        )
    }
}

impl std::error::Error for InvalidTableName {}

/// Checks a table name, so it can be put in SQL text (it is quoted there as well).
pub(crate) fn check_table(name: &str) -> Result<(), InvalidTableName> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_lowercase())
        && chars.all(|c| c == '_' || c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= MAX_TABLE_LEN
        && name != MIGRATIONS_TABLE;
    if valid {
        Ok(())
    } else {
        Err(InvalidTableName(name.to_owned()))
    }
}

/// Milliseconds since the Unix epoch, rounded down (negative before it; saturating).
pub(crate) fn millis(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => {
            let ms = before.duration().as_nanos().div_ceil(1_000_000);
            i64::try_from(ms).map_or(i64::MIN, |ms| -ms)
        }
    }
}

/// The instant `ms` milliseconds after the Unix epoch.
pub(crate) fn from_millis(ms: i64) -> Result<SystemTime, StoreError> {
    let span = Duration::from_millis(ms.unsigned_abs());
    let at = if ms >= 0 {
        UNIX_EPOCH.checked_add(span)
    } else {
        UNIX_EPOCH.checked_sub(span)
    };
    at.ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} ms is out of range")))
}

/// `min(expires_at, idle_expires_at)` in milliseconds: the indexed `deadline` column.
pub(crate) fn deadline_millis(record: &SessionRecord) -> i64 {
    millis(record.deadline())
}

/// A user name as a text user column binds it (SQLite, PostgreSQL): unchanged. MySQL binds
/// bytes instead, so names compare byte for byte.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn user_text(user: &str) -> &str {
    user
}

/// The columns an `INSERT` writes (after `token_hash`) and every `SELECT` reads first, in
/// this order (PostgreSQL casts `data` to text).
pub(crate) const COLUMNS: &str = "id, user_name, data, created_at, last_seen_at, expires_at, \
     idle_expires_at, user_agent, ip, idle_timeout, persistent_cookie";

/// The columns every `SELECT` reads after [`COLUMNS`]: the end of a retained ended session
/// (schema version 3). A new session has none, so `INSERT` leaves them `NULL`.
pub(crate) const END_COLUMNS: &str = "ended_at, end_reason";

/// The statements that end sessions with retention: mark rows not ended yet, and bring their
/// `deadline` forward to the end, so that every query on `deadline` (listings, counts, the
/// purge) treats the end as one more deadline.
pub(crate) struct EndStatements {
    key: String,
    id: String,
    user: String,
    user_except: String,
}

impl EndStatements {
    /// The statements for `table` (quoted), binding the end time, the reason, the end time
    /// again, then the target (and the excepted id); `least` is the engine's `LEAST`.
    pub(crate) fn new(table: &str, least: &str, style: Placeholder) -> Self {
        let p = |n: usize| match style {
            Placeholder::Dollar => format!("${n}"),
            Placeholder::Question => "?".to_owned(),
        };
        let update = |target: String| {
            format!(
                "UPDATE {table} SET ended_at = {at}, end_reason = {reason}, \
                 deadline = {least}(deadline, {at_again}) WHERE {target} AND ended_at IS NULL",
                at = p(1),
                reason = p(2),
                at_again = p(3),
            )
        };
        Self {
            key: update(format!("token_hash = {}", p(4))),
            id: update(format!("id = {}", p(4))),
            user: update(format!("user_name = {}", p(4))),
            user_except: update(format!("user_name = {} AND id <> {}", p(4), p(5))),
        }
    }

    /// The statement for `target`.
    pub(crate) fn get(&self, target: &EndTarget<'_>) -> &str {
        match target {
            EndTarget::Key(_) => &self.key,
            EndTarget::Id(_) => &self.id,
            EndTarget::User { except: None, .. } => &self.user,
            EndTarget::User {
                except: Some(_), ..
            } => &self.user_except,
        }
    }
}

/// The `deadline` at or before which [`delete_expired`](super::SessionStore::delete_expired)
/// at `now` purges, in milliseconds: `now`, or with retention `now - retention`.
pub(crate) fn purge_cutoff(now: SystemTime, retention: Option<Duration>) -> i64 {
    let kept = retention.map_or(0, |period| {
        i64::try_from(period.as_millis()).unwrap_or(i64::MAX)
    });
    millis(now).saturating_sub(kept)
}

/// A [`SessionTerms`] idle timeout as the `idle_timeout` column keeps it: milliseconds.
pub(crate) fn terms_millis(terms: &SessionTerms) -> i64 {
    i64::try_from(terms.idle_timeout_millis()).unwrap_or(i64::MAX)
}

/// The `idle_timeout` and `persistent_cookie` columns of a record: both `NULL` when the
/// session is on the layer's own timeouts.
pub(crate) fn terms_columns(record: &SessionRecord) -> (Option<i64>, Option<bool>) {
    (
        record.terms.as_ref().map(terms_millis),
        record.terms.map(|t| t.persistent),
    )
}

/// How a store keeps the user name: text, or (MySQL) the UTF-8 bytes, compared exactly.
pub(crate) trait UserColumn {
    /// The user name, or `Corrupt` if it is not UTF-8.
    fn into_user(self) -> Result<String, StoreError>;
}

impl UserColumn for String {
    fn into_user(self) -> Result<String, StoreError> {
        Ok(self)
    }
}

impl UserColumn for Vec<u8> {
    fn into_user(self) -> Result<String, StoreError> {
        String::from_utf8(self).map_err(|_| StoreError::Corrupt("user is not UTF-8".to_owned()))
    }
}

fn column<'r, R, T>(row: &'r R, index: usize) -> Result<T, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(index)
        .map_err(|err| StoreError::Corrupt(format!("column {index}: {err}")))
}

/// The statement of `load_by_id`: `select` (which reads [`COLUMNS`] and [`END_COLUMNS`] from
/// the table) reading `token_hash` last, for the live session whose id is `param`.
pub(crate) fn load_by_id_sql(select: &str, param: &str) -> String {
    let keyed = select.replacen(" FROM ", ", token_hash FROM ", 1);
    format!("{keyed} WHERE id = {param} AND ended_at IS NULL")
}

/// Decodes a row selected by [`load_by_id_sql`]: the token hash and the record.
pub(crate) fn decode_keyed_row<'r, R, U>(
    row: &'r R,
) -> Result<(TokenHash, SessionRecord), StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    U: UserColumn + Decode<'r, R::Database> + Type<R::Database>,
    &'r [u8]: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    // Borrowed from the row: no copy before the fixed-size one.
    let hash: &[u8] = column(row, 13)?;
    let hash = <[u8; 32]>::try_from(hash)
        .map_err(|_| StoreError::Corrupt(format!("token_hash has {} bytes, not 32", hash.len())))?;
    Ok((TokenHash(hash), decode_row::<R, U>(row)?))
}

/// Decodes a row selected with [`COLUMNS`] and [`END_COLUMNS`]; `U` is how the engine keeps
/// the user name.
pub(crate) fn decode_row<'r, R, U>(row: &'r R) -> Result<SessionRecord, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    U: UserColumn + Decode<'r, R::Database> + Type<R::Database>,
    &'r [u8]: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    // The id, data, IP and end reason are read borrowed from the row: only what the record
    // keeps is copied.
    let id: &[u8] = column(row, 0)?;
    let id = <[u8; 16]>::try_from(id)
        .map_err(|_| StoreError::Corrupt(format!("id has {} bytes, not 16", id.len())))?;
    let user = column::<R, Option<U>>(row, 1)?
        .map(UserColumn::into_user)
        .transpose()?;
    let data: &str = column(row, 2)?;
    let ip = match column::<R, Option<&str>>(row, 8)? {
        Some(text) => Some(
            text.parse::<IpAddr>()
                .map_err(|_| StoreError::Corrupt(format!("ip {text:?}")))?,
        ),
        None => None,
    };
    let ended = match column::<R, Option<i64>>(row, 11)? {
        Some(ms) => {
            let reason: Option<&str> = column(row, 12)?;
            let reason = reason
                .and_then(EndReason::parse)
                .ok_or_else(|| StoreError::Corrupt(format!("end_reason {reason:?}")))?;
            Some(Ended::new(from_millis(ms)?, reason))
        }
        None => None,
    };
    let terms = match column::<R, Option<i64>>(row, 9)? {
        Some(ms) => Some(SessionTerms {
            idle_timeout: Duration::from_millis(
                u64::try_from(ms).map_err(|_| StoreError::Corrupt(format!("idle_timeout {ms}")))?,
            ),
            persistent: column::<R, Option<bool>>(row, 10)?.unwrap_or(false),
        }),
        None => None,
    };
    Ok(SessionRecord {
        id: SessionId(id),
        user,
        data: decode_data(data)?,
        created_at: from_millis(column(row, 3)?)?,
        last_seen_at: from_millis(column(row, 4)?)?,
        expires_at: from_millis(column(row, 5)?)?,
        idle_expires_at: from_millis(column(row, 6)?)?,
        user_agent: column(row, 7)?,
        ip,
        terms,
        ended,
    })
}

/// A count read back from the database.
pub(crate) fn count(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

/// Maps a database error: a unique violation is a [`StoreError::Conflict`] (a key or public
/// id that exists), anything else a [`StoreError::Backend`].
pub(crate) fn db_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::backend(err),
    }
}

/// How an engine writes the n-th (1-based) statement parameter.
#[derive(Clone, Copy)]
pub(crate) enum Placeholder {
    /// `$1`, `$2`, … (PostgreSQL).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Dollar,
    /// `?` (MySQL, SQLite).
    #[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
    Question,
}

/// The admin listing as SQL, and which parameters it binds, in order: `now` (unless the state
/// is `All`), the user (if any), then the limit and the offset.
pub(crate) fn query_sql(select: &str, query: &SessionQuery, style: Placeholder) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        match style {
            Placeholder::Dollar => format!("${n}"),
            Placeholder::Question => "?".to_owned(),
        }
    };
    let mut conditions = Vec::new();
    match query.state {
        SessionState::Active => conditions.push(format!("deadline > {}", next())),
        SessionState::Expired => conditions.push(format!("deadline <= {}", next())),
        SessionState::All => {}
    }
    if query.user.is_some() {
        conditions.push(format!("user_name = {}", next()));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let (limit, offset) = (next(), next());
    format!("{select}{filter} ORDER BY created_at DESC, id ASC LIMIT {limit} OFFSET {offset}")
}

/// `offset` and `limit` as SQL integers (a `usize::MAX` limit means "all").
pub(crate) fn page(query: &SessionQuery) -> (i64, i64) {
    let clamp = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    (clamp(query.limit), clamp(query.offset))
}

/// The error `migrate` reports when the table was migrated by a newer sessionward.
pub(crate) fn newer_schema(table: &str, found: i64, supported: i64) -> StoreError {
    StoreError::backend(format!(
        "session table {table} is at schema version {found}, newer than the {supported} this \
         version of sessionward supports"
    ))
}

/// How long a pool checkout, or the connection check of `connect`, waits for the server.
pub(super) const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(3);

/// Pool settings for the pools the stores open themselves (`connect`, `open`).
///
/// sqlx pings a connection before every checkout by default: a whole round trip, as long as
/// the query itself, on every request. A connection used within the last second is alive
/// almost surely, so only one idle for longer is pinged (and replaced if dead). sqlx still pings
/// every connection when it is given back, off the request's path, and drops a broken one, so
/// a server restart under load costs at most the requests in flight on the broken connections
/// (they get 503). A checkout waits at most 3 s, so an unreachable server answers 503 quickly
/// instead of holding requests for sqlx's default 30 s.
pub(super) fn pool_options<DB: sqlx::Database>() -> sqlx::pool::PoolOptions<DB> {
    use sqlx::Connection as _;
    sqlx::pool::PoolOptions::new()
        .acquire_timeout(CHECKOUT_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn: &mut DB::Connection, meta| {
            Box::pin(async move {
                if meta.idle_for > Duration::from_secs(1) {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for ok in ["sessions", "_s", "a1_b2", DEFAULT_TABLE] {
            assert!(check_table(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Sessions",
            "a-b",
            "a b",
            "a\"b",
            "a;drop",
            "é",
            MIGRATIONS_TABLE,
            &"a".repeat(49),
        ] {
            assert!(check_table(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn millis_round_trip_and_round_down() {
        let at = UNIX_EPOCH + Duration::from_nanos(1_234_567_890_123);
        assert_eq!(millis(at), 1_234_567);
        assert_eq!(
            from_millis(1_234_567).unwrap(),
            UNIX_EPOCH + Duration::from_millis(1_234_567)
        );
        let before = UNIX_EPOCH - Duration::from_micros(1_500);
        assert_eq!(millis(before), -2);
        assert_eq!(
            from_millis(-2).unwrap(),
            UNIX_EPOCH - Duration::from_millis(2)
        );
        // Extremes never panic.
        let _ = (from_millis(i64::MAX), from_millis(i64::MIN));
        assert_eq!(millis(UNIX_EPOCH), 0);
    }

    #[test]
    fn query_placeholders() {
        let mut query = SessionQuery::active();
        query.user = Some("u".to_owned());
        assert_eq!(
            query_sql("SELECT x FROM t", &query, Placeholder::Dollar),
            "SELECT x FROM t WHERE deadline > $1 AND user_name = $2 \
             ORDER BY created_at DESC, id ASC LIMIT $3 OFFSET $4"
        );
        query.state = SessionState::All;
        query.user = None;
        assert_eq!(
            query_sql("SELECT x FROM t", &query, Placeholder::Question),
            "SELECT x FROM t ORDER BY created_at DESC, id ASC LIMIT ? OFFSET ?"
        );
    }
}
