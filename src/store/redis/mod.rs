//! The Redis store (feature `redis`): standalone Redis or Redis Cluster, one type.
//!
//! The key layout, what is atomic on a cluster, expiry, admin listing and errors are documented
//! on [`RedisStore`] (so they show in the rendered docs); the Lua scripts are in `scripts.rs`.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::IntoConnectionInfo;

use self::conn::Conn;
use self::keys::Keys;
use self::near_cache::Near;
use super::connect_error::{find_io, io_cause, ConnectError};
use crate::error::StoreError;

mod admit_lock;
pub(crate) mod codec;
mod conn;
mod ending;
mod keys;
mod near_cache;
mod operations;
mod script_call;
mod scripts;
mod steps;

pub use self::near_cache::{NearCache, NearCacheStats};

const EXPIRED_RETENTION_MS: u64 = 60_000;
/// No key gets a TTL beyond ten years (Redis refuses absurd ones).
const MAX_TTL_MS: u64 = 10 * 365 * 24 * 3600 * 1000;
/// The id and user indexes outlive their sessions' TTLs by this much, for the milliseconds between the
/// index write and the record write.
const INDEX_SLACK_MS: u64 = 60_000;
/// Ids indexed less than this long ago (server clock) are never pruned from a user index.
const PRUNE_MARGIN_MS: u64 = 10 * 60 * 1000;
/// Concurrent commands per batch when reading many records.
const BATCH: usize = 256;
/// Connection and response timeouts of the connections [`RedisStore::connect`] and
/// [`RedisStore::connect_cluster`] open.
const CONNECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
const RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// A (re)connection is retried this often, backing off up to [`RECONNECT_MAX_DELAY`]: while
/// Redis is down, a request fails within about a second or two instead of waiting.
const RECONNECT_RETRIES: usize = 3;
const RECONNECT_MAX_DELAY: std::time::Duration = std::time::Duration::from_millis(500);
/// The URL form, for messages.
const URL_FORM: &str = "redis://[user:password@]host[:port][/db]";

/// Sessions in Redis: a standalone server (through a connection manager that reconnects by
/// itself) or a Redis Cluster, with the same behaviour on both. Cloning is cheap and shares the
/// connection.
///
/// ```no_run
/// # async fn demo() -> Result<(), sessionward::StoreError> {
/// use sessionward::store::RedisStore;
///
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?.with_prefix("myapp:sess:");
/// let nodes = ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"];
/// let cluster = RedisStore::connect_cluster(&nodes).await?;
/// # let _ = (store, cluster); Ok(()) }
/// ```
///
/// # Key layout
///
/// Every key carries a hash tag (`{…}`), so Redis Cluster puts all keys with the same tag in
/// one slot, and every multi-key atomic step below touches the keys of one tag only.
///
/// | key | type | holds | expires |
/// |---|---|---|---|
/// | `<prefix>{<token-hash-hex>}:s` | hash | the record, under its current token hash: `m` the metadata packed into one string (absolute deadline, idle deadline, last seen, created, each 16 zero-padded digits of ms since the epoch; the 22-character public id; then the IP address and user agent if known), `u` the user, `e` the end of a session kept after it ended (see Retention), and one field `d:<key>` per data key holding its JSON text | at the deadline (with retention: the period after it) |
/// | `<prefix>{<id>}:i` | string | the token hash the session is stored under now | no earlier than the absolute deadline (plus a minute) |
/// | `<prefix>{u:<user>}:sessions` | sorted set | public ids of the user's sessions, scored by when they were indexed (server clock) | no earlier than the latest absolute deadline of its sessions (plus a minute) |
/// | `<prefix>{<token-hash-hex>}:m` | hash | on a cluster only, for the moment a rotation moves the record: the record, sealed | as the record |
///
/// `<id>` is the session's public id (22 base64url characters). The prefix defaults to
/// `sessionward:` and must not contain braces.
///
/// Why the record is keyed by its token hash: a request finds its session with one plain
/// `HGETALL`, on a single server as on a cluster, and no script runs on the read path (a Lua
/// script costs the server several times a plain command, most of all when it returns a
/// hash). The metadata is one field so that the reply has few elements to parse. The id
/// index serves the lookups by public id (revocation, listing); it outlives the record, so a
/// session is never missing from it. The user index may hold ids that are gone or now belong
/// to another user: it is a superset, and every reader checks the record. Indexes are written
/// before the record, so a crash between two steps leaves a stale entry, never a session
/// missing from its user's index (which
/// [`delete_by_user`](crate::store::SessionStore::delete_by_user) relies on to revoke every
/// session). An id is pruned from a user index only once its id index is gone.
///
/// # Atomicity, per operation
///
/// Each numbered step is one command or one Lua script, atomic on its own slot.
///
/// | operation | steps |
/// |---|---|
/// | `load` | `HGETALL` of the record |
/// | `create` | (signed-in sessions: user index `ZADD` first) standalone: one script refuses if the record or the id index exists ([`Conflict`](StoreError::Conflict)), else writes both with their TTLs; cluster: 1. `SET` id index `NX` (taken: `Conflict`); 2. script: refuse if the record exists (then the id index from 1 is given back, `Conflict`), else `HSET` and `PEXPIRE` |
/// | `update` | one script: if the record exists under this token hash and was not ended, apply the patch field by field and move the TTL when a deadline moved (a patch that only sets data keys, most requests' write, runs a shorter script that checks the same and `HSET`s them). A patch that sets a user first adds the id to that user's index; one that moves the absolute deadline then extends the indexes |
/// | `rotate` | standalone: one script: refuse if the new record exists (`Conflict`), `RENAME` the record to the new token hash, apply the patch, point the id index at it. Atomic: the old token is dead and the new one live at the same instant. Cluster (the two token hashes live in different slots): 1. script: seal the record (rename it within its slot; the old token is dead from this instant, and no update can land on it); 2. script: write the record, patched, under the new token hash (`Conflict` if taken: then the seal is undone); 3. point the id index at the new hash; 4. drop the sealed record, unless a revocation marked it meanwhile, in which case the new record is deleted too and `rotate` returns `false`. Should the process die between steps, the session ends (it fails closed) |
/// | `delete` | script: delete the record; then the id index (if it still names this token hash) and the user index entry |
/// | `delete_by_id`, `delete_by_user` | `GET` the id index, then the delete script on the record it names (for `delete_by_user`, only if the record's user is this user). On a cluster a record sealed by a rotation in flight is marked revoked instead, and the rotation drops the session; should the rotation have moved the session meanwhile, the id index names the new token hash and the revocation follows it |
/// | `end` | without retention, as `delete`, `delete_by_id` or `delete_by_user`; with it, the same lookups, then a script marks the record (field `e`) and sets its TTL, then the indexes are made to outlive it |
/// | `list_by_user`, `count_by_user` | `ZRANGE` user index, `GET` each id index, `HGETALL` each record; ids whose id index is gone, or whose record belongs to someone else, are pruned (only when indexed over ten minutes ago, so an id a create in flight has just indexed survives) |
/// | `delete_expired` | `SCAN` of the store's keys on every master; per record a script deletes it if past its deadline (then its id index and user index entries); user indexes are pruned of ids whose id index is gone (with the same ten-minute margin) |
/// | `query` | with a user: the user index; without: `SCAN` of the records on every master; then filter, sort and page |
/// | `count_active` | one `SCAN` of the records on every master, reading each record: its cost grows with the store, so a store-wide cap ([`SessionLayer::max_signed_in_sessions`](crate::SessionLayer::max_signed_in_sessions)) costs every login that scan on Redis; a per-user cap reads only the user index |
/// | `admit` (a login under session caps) | a lease key (`SET NX PX`, per user, or one for the store with a store-wide cap), the steps above, then the lease released compare-and-delete |
///
/// Round trips: `load` 1; `update` 1 (up to 4 for a patch that sets a user or moves the
/// absolute deadline: read the id, index the user, patch, extend the indexes);
/// `create` 1 on a single server, 2 on a cluster (one more with a user); `rotate` 1 on a single
/// server and 4 on a cluster (2 more with a user); `delete` 2.
///
/// The single-server `create` and `rotate` scripts touch keys of different slots (and
/// `rotate` computes the id index key, not passed in `KEYS`), which a single Redis allows; a
/// proxy that routes scripts by their declared keys would not.
///
/// `update` can never bring a deleted session back: every write to a record runs in a script
/// that first checks the record exists under the expected token hash, so it writes nothing
/// when the record is gone or has moved. Data keys are separate hash fields, so concurrent
/// updates of different keys all persist.
///
/// # Expiry
///
/// The record expires at the session's deadline, `min(expires_at, idle_expires_at)`, set with `PEXPIRE` from the time left measured by the application's clock
/// (so a skew between the application and Redis does not shift it), and moved whenever a patch
/// moves a deadline. A record written already past its deadline (the layer never does; an
/// import or a test may) is kept for [`EXPIRED_RETENTION`](Self::EXPIRED_RETENTION) instead,
/// so it can still be listed as expired and purged by `delete_expired`. Redis itself therefore
/// removes almost every expired session; [`delete_expired`](crate::store::SessionStore::delete_expired)
/// removes the rest, counts those, and prunes the user indexes. Its `SCAN` touches every key of
/// the store, so run it every few minutes, not every second. The id index and the user index
/// expire no earlier than the absolute deadline of their sessions (plus a minute), so they
/// never expire under a live session; the idle deadline, which renewals move, never passes the
/// absolute one, so a renewal writes only the record.
///
/// # Retention
///
/// With [`with_retention`](Self::with_retention) a period `p`, every record lives until `p`
/// after it stopped being valid: its TTL counts from its deadline plus `p` (indexes likewise),
/// so expired sessions stay listable as expired. [`end`](crate::store::SessionStore::end)
/// marks the record with a field `e` (the end time and reason) in one script, which also sets
/// the record's TTL to what is left of `p` after the end; the id and user indexes are made to
/// outlive it, so the session stays listable by user. `load` (still one `HGETALL`) returns
/// nothing for a marked record, and the patch, rotate and seal scripts refuse it (one field
/// check inside the script, also without retention), so an ended session never comes back.
/// `delete_expired` purges what stopped `p` ago or earlier. A revocation that meets a record
/// sealed by a cluster rotation in flight ends the session as without retention: deleted.
///
/// # Admin listing
///
/// [`query`](crate::store::SessionStore::query) without a user enumerates sessions with `SCAN` on every
/// master (no global index: a global key would be one hot slot written by every create and
/// delete, and could drift from the records). It reads every record of the store to sort them,
/// so it costs time proportional to the number of sessions; a query for one user reads only that
/// user's index.
///
/// # Errors
///
/// Connection failures, timeouts and Redis errors are [`StoreError::Backend`]; a record or reply
/// that cannot be decoded is [`StoreError::Corrupt`]. The connection reconnects by itself, so
/// the call after a dropped connection works again; a failed call is not retried (a retried
/// `create` could report a `Conflict` with itself).
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisStore {
    conn: Conn,
    keys: Keys,
    retention: Option<std::time::Duration>,
    /// The server(s) [`connect`](Self::connect) or [`connect_cluster`](Self::connect_cluster)
    /// reached, for the near cache's own connection.
    source: Option<near_cache::Source>,
    near: Option<Near>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.is_cluster())
            .field("prefix", &self.keys.prefix())
            .field("near_cache", &self.near.is_some())
            .finish()
    }
}

impl RedisStore {
    /// How long a session written already past its deadline is kept before Redis removes it.
    pub const EXPIRED_RETENTION: std::time::Duration =
        std::time::Duration::from_millis(EXPIRED_RETENTION_MS);

    /// The prefix of every key unless [`with_prefix`](Self::with_prefix) sets another.
    pub const DEFAULT_PREFIX: &'static str = "sessionward:";

    /// Connects to a standalone Redis at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `rediss://` when the application enables a TLS feature of the `redis` crate), with a
    /// connection manager that reconnects by itself.
    ///
    /// A connection attempt times out after 1 s and a command after 2 s; a lost connection is
    /// re-established on the next command, with up to 3 retries backing off to 0.5 s, so while
    /// Redis is down a request fails in a second or two rather than hanging. For other settings
    /// build the manager yourself and use [`from_manager`](Self::from_manager).
    ///
    /// # Errors
    /// [`StoreError::Backend`], with a message naming the address and the cause (never the
    /// password), if the URL is invalid or the server cannot be reached (connection refused,
    /// unknown host, authentication failed), after the retries above.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::{store::RedisStore, SessionLayer};
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
    /// let layer = SessionLayer::new(store);
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(invalid_url)?;
        let at = client.get_connection_info().addr().to_string();
        let client_again = client.clone();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(RECONNECT_MAX_DELAY);
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|err| {
                ConnectError::caused(
                    format!("cannot connect to Redis at {at}: {}", cause(&err)),
                    err,
                )
            })?;
        Ok(Self {
            source: Some(near_cache::Source::Standalone(client_again)),
            ..Self::from_manager(manager)
        })
    }

    /// Connects to a Redis Cluster through any of its `nodes` (URLs as for
    /// [`connect`](Self::connect)); the connection discovers the others, follows topology
    /// changes (`MOVED`, `ASK`) and reconnects to nodes by itself. Timeouts are as for
    /// [`connect`](Self::connect); for other settings use [`from_cluster`](Self::from_cluster).
    ///
    /// # Errors
    /// [`StoreError::Backend`], with a message naming the nodes and the cause (never a
    /// password), if `nodes` is empty, a URL is invalid, or no node can be reached.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::store::RedisStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let nodes = ["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"];
    /// let store = RedisStore::connect_cluster(&nodes).await?;
    /// assert!(store.is_cluster());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_cluster<S: AsRef<str>>(nodes: &[S]) -> Result<Self, StoreError> {
        let nodes: Vec<&str> = nodes.iter().map(AsRef::as_ref).collect();
        if nodes.is_empty() {
            return Err(ConnectError::refused(format!(
                "a Redis Cluster needs at least one node URL, such as {URL_FORM}"
            )));
        }
        let mut addresses = Vec::with_capacity(nodes.len());
        for node in &nodes {
            let info = node.into_connection_info().map_err(invalid_url)?;
            addresses.push(info.addr().to_string());
        }
        let at = addresses.join(", ");
        let owned: Vec<String> = nodes.iter().map(|n| (*n).to_owned()).collect();
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(CONNECTION_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .build()
            .map_err(|err| {
                ConnectError::caused(
                    format!("invalid Redis Cluster setting: {}", cause(&err)),
                    err,
                )
            })?;
        let conn = client.get_async_connection().await.map_err(|err| {
            let why = cause(&err);
            ConnectError::caused(
                format!("cannot connect to Redis Cluster at {at}: {why}"),
                err,
            )
        })?;
        Ok(Self {
            source: Some(near_cache::Source::Cluster(owned)),
            ..Self::from_cluster(conn)
        })
    }

    /// A store over a connection manager configured by the caller (timeouts, retries, TLS, …),
    /// from the `redis` crate 1.x.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use redis::aio::{ConnectionManager, ConnectionManagerConfig};
    /// use sessionward::store::RedisStore;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let config = ConnectionManagerConfig::new()
    ///     .set_connection_timeout(Some(Duration::from_millis(500)))
    ///     .set_response_timeout(Some(Duration::from_secs(1)));
    /// let manager = ConnectionManager::new_with_config(client, config).await?;
    /// let store = RedisStore::from_manager(manager);
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_manager(manager: ConnectionManager) -> Self {
        Self {
            conn: Conn::Standalone(manager),
            keys: Keys::new(Self::DEFAULT_PREFIX),
            retention: None,
            source: None,
            near: None,
        }
    }

    /// A store over a cluster connection configured by the caller, from the `redis` crate 1.x.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use redis::cluster::ClusterClientBuilder;
    /// use sessionward::store::RedisStore;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = ClusterClientBuilder::new(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"])
    ///     .response_timeout(Duration::from_secs(1))
    ///     .build()?;
    /// let store = RedisStore::from_cluster(client.get_async_connection().await?);
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_cluster(conn: ClusterConnection) -> Self {
        Self {
            conn: Conn::Cluster(conn),
            keys: Keys::new(Self::DEFAULT_PREFIX),
            retention: None,
            source: None,
            near: None,
        }
    }

    /// Puts every key under `prefix` (default [`DEFAULT_PREFIX`](Self::DEFAULT_PREFIX)), so several apps, or test
    /// runs, can share one Redis without seeing each other's sessions.
    ///
    /// # Panics
    /// If `prefix` contains `{` or `}`, which would change the hash tags of the keys.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use sessionward::store::RedisStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = RedisStore::connect("redis://127.0.0.1:6379").await?.with_prefix("shop:sess:");
    /// assert_eq!(store.prefix(), "shop:sess:");
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.keys = Keys::new(prefix);
        self
    }

    /// Keeps ended sessions (logged out, revoked, evicted, or expired) for `period`, marked
    /// with why and when they ended, so that admins can list them; see
    /// [Retention](Self#retention). Off by default (ending a session deletes it); a zero
    /// `period` turns it off. Every instance sharing the keys should use the same period.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sessionward::store::RedisStore;
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = RedisStore::connect("redis://127.0.0.1:6379")
    ///     .await?
    ///     .with_retention(Duration::from_secs(86_400));
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_retention(mut self, period: std::time::Duration) -> Self {
        self.retention = (!period.is_zero()).then_some(period);
        self
    }

    /// The retention period in milliseconds (0 without retention).
    fn retention_ms(&self) -> u64 {
        self.retention
            .map_or(0, |p| u64::try_from(p.as_millis()).unwrap_or(u64::MAX))
    }

    /// The prefix of every key of this store.
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }
}

/// A URL the `redis` crate refused, without the URL (it may hold a password).
fn invalid_url(err: redis::RedisError) -> StoreError {
    let why = match cause(&err) {
        // The crate's catch-all says nothing more than "invalid".
        why if why == "Redis URL did not parse" => String::new(),
        why => format!(": {why}"),
    };
    ConnectError::caused(format!("invalid Redis URL{why}; expected {URL_FORM}"), err)
}

/// What went wrong, in the OS's or Redis's words. The crate writes its own errors as
/// "description - Kind: detail"; the kind's name adds nothing to the description.
fn cause(err: &redis::RedisError) -> String {
    if let Some(io) = find_io(err) {
        return io_cause(io);
    }
    let kind = format!(" - {:?}", err.kind());
    err.to_string().replacen(&kind, "", 1)
}
