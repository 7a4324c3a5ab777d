//! The Redis store (feature `redis`): standalone Redis or Redis Cluster, one type.
//!
//! The key layout, what is atomic on a cluster, expiry, admin listing and errors are documented
//! on [`RedisStore`] (so they show in the rendered docs); the Lua scripts are in `scripts.rs`.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;

use self::conn::{backend, Conn};
use self::keys::Keys;
use crate::error::StoreError;

mod codec;
mod conn;
mod keys;
mod operations;
mod scripts;
mod steps;

const EXPIRED_RETENTION_MS: u64 = 60_000;
/// No key gets a TTL beyond ten years (Redis refuses absurd ones).
const MAX_TTL_MS: u64 = 10 * 365 * 24 * 3600 * 1000;
/// A user index outlives its sessions' TTLs by this much, for the milliseconds between the
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
/// | `<prefix>{<id>}:s` | hash | the record: `t` current token hash (hex), `u` user, `c` `l` `e` `x` created, last seen, absolute and idle deadlines (ms since the epoch), `a` user agent, `ip`, and one field `d:<key>` per data key holding its JSON text | at the deadline |
/// | `<prefix>{<token-hash-hex>}:t` | string | the public id the token hash belongs to | at the deadline |
/// | `<prefix>{u:<user>}:sessions` | sorted set | public ids of the user's sessions, scored by when they were indexed (server clock) | no earlier than the latest absolute deadline of its sessions |
///
/// `<id>` is the session's public id (22 base64url characters). The prefix defaults to
/// `sessionward:` and must not contain braces.
///
/// The token index maps a token hash to a public id forever (token hashes are never reused),
/// and the record names its current token hash. A session is found by following the index and
/// checking that the record still holds this token hash; an index key whose record is gone or
/// has moved to another token is simply stale and harmless. The user index may likewise hold
/// ids that are gone or now belong to another user: it is a superset, and every reader checks
/// the record. Indexes are added to before the record is written and cleaned after, so a crash
/// between two steps leaves a stale entry, never a session missing from its user's index (which
/// [`delete_by_user`](crate::store::SessionStore::delete_by_user) relies on to revoke every session).
///
/// # Atomicity, per operation
///
/// Each numbered step is one command or one Lua script, atomic on its own slot; the step that
/// decides the outcome is a compare-and-set on the record, so every operation is atomic with
/// respect to the others on the same session, on a cluster as on a single server.
///
/// | operation | steps |
/// |---|---|
/// | `create` | standalone: user index `ZADD` (signed-in sessions only), then one script: refuse if the record exists or the token index is taken ([`Conflict`](StoreError::Conflict)), else `SET` the index and `HSET` every field, both with the TTL; cluster: 1. `SET` token index `NX` (taken: `Conflict`); 2. user index `ZADD`; 3. script: refuse if the record exists (then the index from 1 is dropped, `Conflict`), else `HSET` every field and `PEXPIRE` |
/// | `load` | standalone: one script reads the index and the record; cluster: `GET` index, then `HGETALL` record. The record counts only if its `t` is this token hash |
/// | `update` | standalone: one script resolves the index, compares `t`, applies the patch field by field and moves the TTLs of the record and the index; cluster: `GET` index, the same script on the record's slot, then `PEXPIRE` of the index when a deadline moved. A patch that sets a user first adds the id to that user's index |
/// | `rotate` | 1. `GET` old index; 2. `SET` new index `NX` (taken: `Conflict`, nothing changed); 3. script on the record: compare-and-set `t` from old to new and apply the patch (the old token is dead from this instant; `false` if the session is gone or was rotated by someone else); 4. on success `DEL` the old index and set the new index's TTL, on failure `DEL` the new index |
/// | `delete` | `GET` index; script: delete the record if `t` is this token hash; then `DEL` the index and `ZREM` from the user index |
/// | `delete_by_id` | script: delete the record, returning its token hash and user; then `DEL` index, `ZREM` |
/// | `list_by_user`, `count_by_user` | `ZRANGE` user index, `HGETALL` each record; ids whose record is gone or belongs to someone else are pruned (only when indexed over ten minutes ago, so an id a create in flight has just indexed survives) |
/// | `delete_by_user` | `ZRANGE`; per id a script deletes the record only if its user is this user; `DEL` indexes, `ZREM` |
/// | `delete_expired` | `SCAN` of the store's keys on every master; per record a script deletes it if past its deadline (then `DEL` index, `ZREM`); user indexes are pruned of ids whose record is gone (with the same ten-minute margin) |
/// | `query` | with a user: the user index; without: `SCAN` of the records on every master; then filter, sort and page |
///
/// Round trips: `load` 1 on a single server, 2 on a cluster (the token index and the record
/// live in different slots); `update` 1 on a single server, 2 on a cluster (3 when a deadline
/// moves); `create` 1 on a single server and 2 on a cluster (one more with a user); `rotate` 4
/// (5 with a user).
///
/// The single-server `load` and `update` scripts read a key they compute from the index (not
/// one passed in `KEYS`), which a single Redis allows; a proxy that routes scripts by their
/// declared keys would not.
///
/// `update` can never bring a deleted session back: every write to a record runs in a script
/// that first checks the record holds the expected token hash, so it writes nothing when the
/// record is gone. Data keys are separate hash fields, so concurrent updates of different keys
/// all persist.
///
/// # Expiry
///
/// The record and its token index expire at the session's deadline, `min(expires_at,
/// idle_expires_at)`, set with `PEXPIRE` from the time left measured by the application's clock
/// (so a skew between the application and Redis does not shift it), and moved whenever a patch
/// moves a deadline. A record written already past its deadline (the layer never does; an
/// import or a test may) is kept for [`EXPIRED_RETENTION`](Self::EXPIRED_RETENTION) instead,
/// so it can still be listed as expired and purged by `delete_expired`. Redis itself therefore
/// removes almost every expired session; [`delete_expired`](crate::store::SessionStore::delete_expired)
/// removes the rest, counts those, and prunes the user indexes. Its `SCAN` touches every key of
/// the store, so run it every few minutes, not every second. A user index expires no earlier
/// than the latest absolute deadline of its sessions (plus a minute), so it never expires under
/// a live session.
///
/// On a cluster the record's and the token index's TTLs are set by two commands: should the
/// process die between them after a renewal, the index keeps its earlier TTL and the session
/// ends at its previous deadline, never later than it should.
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
pub struct RedisStore {
    conn: Conn,
    keys: Keys,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.is_cluster())
            .field("prefix", &self.keys.prefix())
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
    /// [`StoreError::Backend`] if the URL is invalid or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(RECONNECT_MAX_DELAY);
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(backend)?;
        Ok(Self::from_manager(manager))
    }

    /// Connects to a Redis Cluster through any of its `nodes` (URLs as for
    /// [`connect`](Self::connect)); the connection discovers the others, follows topology
    /// changes (`MOVED`, `ASK`) and reconnects to nodes by itself. Timeouts are as for
    /// [`connect`](Self::connect); for other settings use [`from_cluster`](Self::from_cluster).
    ///
    /// # Errors
    /// [`StoreError::Backend`] if a URL is invalid or no node can be reached.
    pub async fn connect_cluster<S: AsRef<str>>(nodes: &[S]) -> Result<Self, StoreError> {
        let nodes: Vec<&str> = nodes.iter().map(AsRef::as_ref).collect();
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(CONNECTION_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .build()
            .map_err(backend)?;
        let conn = client.get_async_connection().await.map_err(backend)?;
        Ok(Self::from_cluster(conn))
    }

    /// A store over a connection manager configured by the caller (timeouts, retries, TLS, …),
    /// from the `redis` crate 1.x.
    pub fn from_manager(manager: ConnectionManager) -> Self {
        Self {
            conn: Conn::Standalone(manager),
            keys: Keys::new(Self::DEFAULT_PREFIX),
        }
    }

    /// A store over a cluster connection configured by the caller, from the `redis` crate 1.x.
    pub fn from_cluster(conn: ClusterConnection) -> Self {
        Self {
            conn: Conn::Cluster(conn),
            keys: Keys::new(Self::DEFAULT_PREFIX),
        }
    }

    /// Puts every key under `prefix` (default [`DEFAULT_PREFIX`](Self::DEFAULT_PREFIX)), so several apps, or test
    /// runs, can share one Redis without seeing each other's sessions.
    ///
    /// # Panics
    /// If `prefix` contains `{` or `}`, which would change the hash tags of the keys.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.keys = Keys::new(prefix);
        self
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
