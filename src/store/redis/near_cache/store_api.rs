//! The near cache as the store shows it: turning it on, and what it reports.

use super::{Near, NearCache, NearCacheStats};
use crate::error::StoreError;
use crate::store::connect_error::ConnectError;
use crate::store::RedisStore;

impl RedisStore {
    /// Turns on a near cache: this instance keeps copies of the sessions it reads, and a read
    /// of a session it holds costs no round trip to Redis. Call it last, after
    /// [`with_prefix`](Self::with_prefix).
    ///
    /// **The guarantee.** A session changed or ended through any instance (a logout, a
    /// revocation, a rotation, an update) is never served from this instance's copy later than
    /// [`NearCache::new`]'s bound after Redis applied the change, plus the time one message
    /// takes to arrive; in practice, as soon as Redis's invalidation arrives (well under a
    /// millisecond on a local network). That holds when the connection drops (every copy goes
    /// at once, and none is served until a new connection has tracking on and has answered a
    /// PING) and when it silently stops delivering (a copy is served only while a PING sent no
    /// earlier than the bound ago has been answered; the heartbeat PINGs every quarter of the
    /// bound). Each copy's own idle and absolute deadlines are checked on every hit. Writes by
    /// this instance drop its own copy at once.
    ///
    /// How: Redis's server-assisted client-side caching. A dedicated RESP3 connection, named
    /// `sessionward-near-cache:<prefix>` in `CLIENT LIST`, has `CLIENT TRACKING ON NOLOOP`
    /// (default mode, so Redis remembers only the keys this connection read) and carries the
    /// store's commands while it is up (the store's own connection serves while it is being
    /// replaced, and always creates sessions, which no copy can exist of); Redis pushes an invalidation on it when a key it read is changed by
    /// another client, expires or is evicted, and a `FLUSHALL` or `FLUSHDB` empties the whole
    /// cache. This instance's own writes cause no push (`NOLOOP`): they drop the copy
    /// themselves, also when the request is dropped mid-write. A read and an
    /// invalidation of the same key can be handled in either order: a reply is kept only if
    /// no invalidation came for its key while it was in flight. Unknown tokens are never
    /// cached. The copies are bounded in bytes ([`NearCache::max_bytes`]), least recently used
    /// first out.
    ///
    /// What it costs: the renewal write that moves a session's idle deadline (at most once per
    /// renewal interval: a quarter of the idle timeout, at most a minute) invalidates every instance's copy of
    /// it, so each instance reads it once more after a renewal.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the tracking connection cannot be opened (Redis before 6, which
    /// has no tracking, or before 6.2 on a cluster, which lacks `CLIENT TRACKINGINFO`; or
    /// unreachable), or if the store was not made by
    /// [`connect`](Self::connect) or [`connect_cluster`](Self::connect_cluster): a store over
    /// a caller's own connection has no near cache.
    ///
    /// # On a Redis Cluster
    ///
    /// The cache's own RESP3 cluster connection has tracking on at every master. The cluster
    /// connection replaces a lost node connection by itself, with tracking off, so the
    /// heartbeat asks every master whether tracking is on (`CLIENT TRACKINGINFO`) and whether
    /// it still is a master (`ROLE`): only a round in which all say yes, with the same
    /// masters as before, moves the fence; anything
    /// else (a node without tracking, a failover) empties the cache and turns tracking on
    /// again everywhere. A slot migration deletes the moved keys at the source, which drops
    /// their copies.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sessionward::store::{NearCache, RedisStore};
    ///
    /// # async fn run() -> Result<(), sessionward::StoreError> {
    /// let store = RedisStore::connect("redis://127.0.0.1:6379")
    ///     .await?
    ///     .with_near_cache(NearCache::new(Duration::from_millis(100)))
    ///     .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn with_near_cache(mut self, config: NearCache) -> Result<Self, StoreError> {
        let Some(source) = self.source.clone() else {
            return Err(ConnectError::refused(
                "the near cache needs a store made by RedisStore::connect or \
                 RedisStore::connect_cluster (not one over a caller's connection)"
                    .to_owned(),
            ));
        };
        // Redis refuses spaces and newlines in a client name.
        let name = format!("sessionward-near-cache:{}", self.prefix())
            .replace(|c: char| c.is_whitespace(), "_");
        self.near = Some(Near::start(source, &config, name).await?);
        Ok(self)
    }

    /// The near cache's counters (hits, misses, invalidations, connections, entries and
    /// bytes held), or `None` without a near cache.
    pub fn near_cache_stats(&self) -> Option<NearCacheStats> {
        self.near.as_ref().map(Near::stats)
    }

    /// Returns once every invalidation Redis sent before this call has been applied to the
    /// near cache: one PING round trip on its tracking connection (which is dropped, with
    /// every copy, if the PING fails). After it, no copy of a session changed before the call
    /// is served. Without a near cache, returns at once.
    pub async fn sync_near_cache(&self) {
        if let Some(near) = &self.near {
            near.sync().await;
        }
    }

    /// The name of the near cache's tracking connection in Redis's `CLIENT LIST`, or `None`
    /// without a near cache.
    pub fn near_cache_client_name(&self) -> Option<&str> {
        self.near.as_ref().map(Near::client_name)
    }

    /// Drops this instance's copy of the record at `key` when the guard goes: after a write
    /// of it here, or when the request writing it is dropped midway (the write may still
    /// land, and with `NOLOOP` Redis would not say so).
    pub(in crate::store::redis) fn evict_after<'a>(&'a self, key: &'a str) -> EvictAfter<'a> {
        EvictAfter { store: self, key }
    }
}

/// See [`RedisStore::evict_after`].
pub(in crate::store::redis) struct EvictAfter<'a> {
    store: &'a RedisStore,
    key: &'a str,
}

impl Drop for EvictAfter<'_> {
    fn drop(&mut self) {
        if let Some(near) = &self.store.near {
            near.evict(self.key);
        }
    }
}
