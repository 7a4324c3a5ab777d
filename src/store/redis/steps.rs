//! The single-slot steps the operations are made of: index upkeep, the calls of the patch and
//! delete scripts, batched reads, and the TTL arithmetic.

use std::time::SystemTime;

use futures_util::future::try_join_all;
use redis::Value;

use super::codec::{self, decode, hgetall, int, millis, stamp, text, Meta};
use super::conn::{backend, unexpected, Conn};
use super::script_call::{DataField, ScriptCall};
use super::scripts::{DELETE, INDEX_USER, PATCH, PATCH_DATA, PRUNE_USER, UNLINK_ID};
use super::{RedisStore, BATCH, EXPIRED_RETENTION_MS, INDEX_SLACK_MS, MAX_TTL_MS, PRUNE_MARGIN_MS};
use crate::error::StoreError;
use crate::store::{SessionPatch, SessionRecord};
use crate::token::SessionId;

impl RedisStore {
    pub(super) fn conn(&self) -> Conn {
        match self.near.as_ref().and_then(|near| near.live_conn()) {
            Some(tracked) => tracked,
            None => self.conn.clone(),
        }
    }

    pub(super) fn is_standalone(&self) -> bool {
        matches!(self.conn, Conn::Standalone(_))
    }

    pub(super) async fn invoke(&self, call: &ScriptCall<'_>) -> Result<Value, StoreError> {
        script_reply(call.run(&mut self.conn()).await)
    }

    /// As [`invoke`](Self::invoke), on the store's own connection even with a near cache: for
    /// a script that creates keys no copy can exist of. On the tracking connection Redis would
    /// record every key the script reads (its existence checks) for this client, and forget
    /// them again when the script writes them: work for nothing.
    pub(super) async fn invoke_untracked(
        &self,
        call: &ScriptCall<'_>,
    ) -> Result<Value, StoreError> {
        script_reply(call.run(&mut self.conn.clone()).await)
    }

    pub(super) async fn query_cmd(&self, cmd: &redis::Cmd) -> Result<Value, StoreError> {
        cmd.query_async(&mut self.conn()).await.map_err(backend)
    }

    /// The token hash (hex) an id index names, if the key exists.
    pub(super) async fn resolve(&self, id: &SessionId) -> Result<Option<String>, StoreError> {
        match self
            .query_cmd(redis::cmd("GET").arg(self.keys.id(id)))
            .await?
        {
            Value::Nil => Ok(None),
            other => text(other)
                .map(Some)
                .ok_or_else(|| unexpected("GET of an id index")),
        }
    }

    /// Adds `id` to `user`'s index, making the index live for at least `cover_ms`.
    pub(super) async fn index_user(
        &self,
        user: &str,
        id: &SessionId,
        cover_ms: u64,
    ) -> Result<(), StoreError> {
        let mut call = ScriptCall::new(&INDEX_USER, &[&self.keys.user(user)]);
        call.arg(id.to_string()).arg(cover_ms);
        self.invoke(&call).await.map(drop)
    }

    /// Removes stale `ids` from `user`'s index, except those indexed in the last
    /// [`PRUNE_MARGIN_MS`].
    pub(super) async fn prune_user(&self, user: &str, ids: &[SessionId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut call = ScriptCall::new(&PRUNE_USER, &[&self.keys.user(user)]);
        call.arg(PRUNE_MARGIN_MS);
        for id in ids {
            call.arg(id.to_string());
        }
        self.invoke(&call).await.map(drop)
    }

    /// The ids in `user`'s index.
    pub(super) async fn user_ids(&self, user: &str) -> Result<Vec<SessionId>, StoreError> {
        let reply = self
            .query_cmd(
                redis::cmd("ZRANGE")
                    .arg(self.keys.user(user))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        let Value::Array(members) = reply else {
            return Err(unexpected("ZRANGE"));
        };
        // A member that is not an id was not written by this store: ignore it.
        Ok(members
            .into_iter()
            .filter_map(|m| text(m).and_then(|t| SessionId::parse(&t)))
            .collect())
    }

    /// Reads the records stored under token hashes `hexes`, concurrently, in order (`None`
    /// where gone).
    pub(super) async fn fetch(
        &self,
        hexes: &[String],
    ) -> Result<Vec<Option<SessionRecord>>, StoreError> {
        let mut out = Vec::with_capacity(hexes.len());
        for chunk in hexes.chunks(BATCH) {
            let reads = chunk.iter().map(|hex| {
                let cmd = hgetall(&self.keys.record(hex));
                async move { decode(self.query_cmd(&cmd).await?) }
            });
            out.extend(try_join_all(reads).await?);
        }
        Ok(out)
    }

    /// Follows the id indexes of `ids`, concurrently, in order (`None` where the index is gone).
    pub(super) async fn resolve_all(
        &self,
        ids: &[SessionId],
    ) -> Result<Vec<Option<String>>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            out.extend(try_join_all(chunk.iter().map(|id| self.resolve(id))).await?);
        }
        Ok(out)
    }

    /// The records of `user`'s index that still belong to `user`. Ids whose id index is gone
    /// (the session ended long ago) or whose record now belongs to someone else are pruned;
    /// an id whose index names a missing record is kept (a record Redis expired before its
    /// index, or one a cluster rotation is moving).
    pub(super) async fn user_records(&self, user: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let ids = self.user_ids(user).await?;
        let hexes = self.resolve_all(&ids).await?;
        let mut stale = Vec::new();
        let mut found = Vec::new();
        for (id, hex) in ids.iter().zip(hexes) {
            match hex {
                Some(hex) => found.push((*id, hex)),
                None => stale.push(*id),
            }
        }
        let hexes: Vec<String> = found.iter().map(|(_, hex)| hex.clone()).collect();
        let stored = self.fetch(&hexes).await?;
        let mut records = Vec::with_capacity(found.len());
        for ((id, _), record) in found.into_iter().zip(stored) {
            match record {
                Some(r) if r.id == id && r.user.as_deref() == Some(user) => records.push(r),
                Some(r) if r.id == id => stale.push(id),
                _ => {}
            }
        }
        self.prune_user(user, &stale).await?;
        Ok(records)
    }

    /// Deletes the record stored under `hex` if it matches (see [`DELETE`]), then its id index
    /// entry and its user index entry. Returns whether it deleted (or revoked a sealed one).
    pub(super) async fn delete_record(
        &self,
        hex: &str,
        mode: &str,
        id: Option<&SessionId>,
        arg: &str,
    ) -> Result<bool, StoreError> {
        let rec = self.keys.record(hex);
        let mut call = ScriptCall::new(&DELETE, &[&rec, &self.keys.sealed(hex)]);
        call.arg(mode)
            .arg(id.map(ToString::to_string).unwrap_or_default())
            .arg(arg);
        let _evict = self.evict_after(&rec);
        let reply = self.invoke(&call).await?;
        let Some(deleted) = Deleted::from_reply(reply)? else {
            return Ok(false);
        };
        if let Some(id) = &deleted.id {
            self.unlink(id, hex, deleted.user.as_deref()).await?;
        }
        Ok(true)
    }

    /// Removes an ended session from its id index (if it still names `hex`) and user index.
    pub(super) async fn unlink(
        &self,
        id: &SessionId,
        hex: &str,
        user: Option<&str>,
    ) -> Result<(), StoreError> {
        let unlink_id = async {
            let mut call = ScriptCall::new(&UNLINK_ID, &[&self.keys.id(id)]);
            call.arg(hex);
            self.invoke(&call).await.map(drop)
        };
        let unlink_user = async {
            match user {
                Some(user) => self
                    .query_cmd(
                        redis::cmd("ZREM")
                            .arg(self.keys.user(user))
                            .arg(id.to_string()),
                    )
                    .await
                    .map(drop),
                None => Ok(()),
            }
        };
        futures_util::future::try_join(unlink_id, unlink_user)
            .await
            .map(drop)
    }

    /// Applies `patch` through the [`PATCH`] script to the record under `hex` (through
    /// [`PATCH_DATA`] when it only sets data keys). Returns `None` when there is no record;
    /// `report` asks for the id, user and absolute deadline (a patch that only sets data needs
    /// no report).
    pub(super) async fn patch(
        &self,
        hex: &str,
        now: u64,
        patch: &SessionPatch,
        report: bool,
    ) -> Result<Option<Patched>, StoreError> {
        let rec = self.keys.record(hex);
        let call = if sets_data_only(patch) {
            let mut call = ScriptCall::new(&PATCH_DATA, &[&rec]);
            for (name, value) in &patch.data {
                // Always `Some` here (`sets_data_only`).
                if let Some(value) = value {
                    call.arg(DataField(name)).arg(value.get());
                }
            }
            call
        } else {
            let mut call = ScriptCall::new(&PATCH, &[&rec]);
            patch_args(&mut call, now, patch, report);
            patch_data(&mut call, patch);
            call
        };
        let _evict = self.evict_after(&rec);
        Patched::from_reply(self.invoke(&call).await?)
    }

    /// Indexes the session under the user `patch` sets, before the patch is written, so the
    /// index never misses the session. `rec` is the record's key.
    pub(super) async fn index_patch_user(
        &self,
        rec: &str,
        patch: &SessionPatch,
        now: u64,
    ) -> Result<Indexed, StoreError> {
        let Some(Some(user)) = &patch.user else {
            return Ok(Indexed::NotNeeded);
        };
        let meta: Option<String> = redis::cmd("HGET")
            .arg(rec)
            .arg(codec::META)
            .query_async(&mut self.conn())
            .await
            .map_err(backend)?;
        let Some(meta) = meta else {
            // Gone: the patch will find nothing, and the session never comes back.
            return Ok(Indexed::Gone);
        };
        let meta = Meta::parse(&meta).ok_or_else(|| {
            StoreError::Corrupt(format!("a Redis session record: bad metadata {meta:?}"))
        })?;
        let id = meta.id;
        let expires = millis(patch.expires_at.unwrap_or(meta.expires_at));
        let cover = cover_ms(expires, now);
        self.index_user(user, &id, cover).await?;
        Ok(Indexed::Done(user.clone(), cover))
    }

    /// After a patch that set a user or moved the absolute deadline: makes the user index (and,
    /// unless `id_done`, the id index) cover the absolute deadline, unless the user index
    /// written before the patch already does.
    pub(super) async fn cover_after_patch(
        &self,
        patched: &Patched,
        indexed: &Indexed,
        id_done: bool,
        now: u64,
    ) -> Result<(), StoreError> {
        let Some(id) = &patched.id else {
            return Ok(());
        };
        let cover = cover_ms(patched.expires_at.unwrap_or(u64::MAX), now);
        let cover_id = async {
            if id_done {
                return Ok(());
            }
            self.query_cmd(redis::cmd("PEXPIRE").arg(self.keys.id(id)).arg(cover))
                .await
                .map(drop)
        };
        let cover_user = async {
            let Some(user) = &patched.user else {
                return Ok(());
            };
            if matches!(indexed, Indexed::Done(u, c) if u == user && *c >= cover) {
                return Ok(());
            }
            self.index_user(user, id, cover).await
        };
        futures_util::future::try_join(cover_id, cover_user)
            .await
            .map(drop)
    }
}

/// Pushes the patch arguments of [`PATCH`] (and of the standalone rotation) onto `inv`,
/// before the data triples, which go last.
pub(super) fn patch_args(inv: &mut ScriptCall<'_>, now: u64, patch: &SessionPatch, report: bool) {
    inv.arg(now);
    match &patch.user {
        None => inv.arg("").arg(""),
        Some(None) => inv.arg("-").arg(""),
        Some(Some(user)) => inv.arg("=").arg(user.as_str()),
    };
    for at in [patch.last_seen_at, patch.idle_expires_at, patch.expires_at] {
        inv.arg(at.map(stamp).unwrap_or_default());
    }
    inv.arg(EXPIRED_RETENTION_MS)
        .arg(MAX_TTL_MS)
        .arg(if report { "1" } else { "" });
}

/// Pushes the data triples of `patch` onto `inv`, and its terms as one more field set.
pub(super) fn patch_data(inv: &mut ScriptCall<'_>, patch: &SessionPatch) {
    if let Some(terms) = &patch.terms {
        inv.arg("s")
            .arg(codec::TERMS)
            .arg(codec::terms_value(terms));
    }
    for (name, value) in &patch.data {
        match value {
            Some(value) => inv.arg("s").arg(DataField(name)).arg(value.get()),
            None => inv.arg("d").arg(DataField(name)).arg(""),
        };
    }
}

/// Whether a patch only sets data keys (at least one): [`PATCH_DATA`] applies it.
fn sets_data_only(patch: &SessionPatch) -> bool {
    !patch.data.is_empty()
        && patch.data.iter().all(|(_, value)| value.is_some())
        && patch.changes_only_data()
}

/// Whether a patch needs the script to report (it sets a user or moves the absolute deadline,
/// so the indexes must follow).
pub(super) fn needs_report(patch: &SessionPatch) -> bool {
    patch.user.is_some() || patch.expires_at.is_some()
}

/// What [`RedisStore::index_patch_user`] did.
pub(super) enum Indexed {
    /// The patch sets no user.
    NotNeeded,
    /// The record is gone.
    Gone,
    /// The session was indexed under this user, for this long (ms).
    Done(String, u64),
}

/// How a revocation by id ended.
pub(super) enum Revoked {
    Done,
    /// The session was ended already (retention): kept, and still indexed.
    AlreadyEnded,
    /// The id index is gone: the session ended long ago.
    Unindexed,
    /// The index names no matching record.
    NotFound,
}

/// What [`PATCH`] reports after applying a patch.
pub(super) struct Patched {
    /// The public id (reported patches only).
    pub(super) id: Option<SessionId>,
    /// The user after the patch.
    pub(super) user: Option<String>,
    /// The absolute deadline after the patch (ms), if readable.
    pub(super) expires_at: Option<u64>,
}

impl Patched {
    pub(super) fn from_reply(reply: Value) -> Result<Option<Self>, StoreError> {
        let bad = || unexpected("the patch script");
        let items = match reply {
            Value::Nil => return Ok(None),
            Value::Int(1) => {
                return Ok(Some(Self {
                    id: None,
                    user: None,
                    expires_at: None,
                }))
            }
            Value::Array(items) if items.len() == 4 => items,
            _ => return Err(bad()),
        };
        let mut items = items.into_iter();
        let mut next = || items.next().ok_or_else(bad);
        let id = text(next()?).ok_or_else(bad)?;
        let id = Some(SessionId::parse(&id).ok_or_else(|| {
            StoreError::Corrupt(format!("a Redis session record: bad id {id:?}"))
        })?);
        let has_user = int(next()?).ok_or_else(bad)? == 1;
        let user = text(next()?).ok_or_else(bad)?;
        let expires_at = text(next()?).and_then(|e| e.parse().ok());
        Ok(Some(Self {
            id,
            user: has_user.then_some(user),
            expires_at,
        }))
    }
}

/// What [`DELETE`] (and the end script) reports about the record it deleted (or ended).
pub(super) struct Deleted {
    /// `None` for a record whose metadata was unreadable.
    pub(super) id: Option<SessionId>,
    pub(super) user: Option<String>,
}

impl Deleted {
    pub(super) fn from_reply(reply: Value) -> Result<Option<Self>, StoreError> {
        let bad = || unexpected("the delete or end script");
        let items = match reply {
            Value::Nil => return Ok(None),
            Value::Array(items) if items.len() == 3 => items,
            _ => return Err(bad()),
        };
        let mut items = items.into_iter();
        let mut next = || items.next().ok_or_else(bad);
        let id = SessionId::parse(&text(next()?).ok_or_else(bad)?);
        let has_user = int(next()?).ok_or_else(bad)? == 1;
        let user = text(next()?).ok_or_else(bad)?;
        Ok(Some(Self {
            id,
            user: has_user.then_some(user),
        }))
    }
}

pub(super) fn now_ms() -> u64 {
    millis(SystemTime::now())
}

/// The TTL of a record whose deadline is `deadline` (ms) at `now`.
pub(super) fn ttl_ms(deadline: u64, now: u64) -> u64 {
    if deadline > now {
        (deadline - now).min(MAX_TTL_MS)
    } else {
        EXPIRED_RETENTION_MS
    }
}

/// The TTL an index needs to outlive a session whose absolute deadline is `expires` (ms).
pub(super) fn cover_ms(expires: u64, now: u64) -> u64 {
    expires
        .saturating_sub(now)
        .max(EXPIRED_RETENTION_MS)
        .saturating_add(INDEX_SLACK_MS)
        .min(MAX_TTL_MS + INDEX_SLACK_MS)
}

pub(super) fn newest_first(records: &mut [SessionRecord]) {
    records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
}

/// A script's reply as RESP2 gives it, whatever the connection speaks: a Lua `false` is nil
/// over RESP2 but a boolean over RESP3 (the near cache's connection), and the decoders read
/// nil.
fn script_reply(reply: redis::RedisResult<Value>) -> Result<Value, StoreError> {
    match reply.map_err(backend)? {
        Value::Boolean(false) => Ok(Value::Nil),
        other => Ok(other),
    }
}
