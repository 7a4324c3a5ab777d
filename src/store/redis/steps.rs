//! The single-slot steps the operations are made of: index upkeep, the calls of the patch and
//! delete scripts, batched reads, and the TTL arithmetic.

use std::time::SystemTime;

use futures_util::future::try_join_all;
use redis::{ScriptInvocation, Value};

use super::codec::{self, data_field, decode, int, millis, text, Stored};
use super::conn::{backend, unexpected, Conn};
use super::scripts::{DELETE, INDEX_USER, PATCH, PRUNE_USER};
use super::{RedisStore, BATCH, EXPIRED_RETENTION_MS, INDEX_SLACK_MS, MAX_TTL_MS, PRUNE_MARGIN_MS};
use crate::error::StoreError;
use crate::store::{SessionPatch, SessionRecord};
use crate::token::{SessionId, TokenHash};

impl RedisStore {
    pub(super) fn conn(&self) -> Conn {
        self.conn.clone()
    }

    pub(super) async fn invoke(&self, call: &ScriptInvocation<'_>) -> Result<Value, StoreError> {
        call.invoke_async(&mut self.conn()).await.map_err(backend)
    }

    pub(super) async fn query_cmd(&self, cmd: &redis::Cmd) -> Result<Value, StoreError> {
        cmd.query_async(&mut self.conn()).await.map_err(backend)
    }

    /// The public id a token index holds, if the key exists.
    pub(super) async fn resolve(&self, key: &TokenHash) -> Result<Option<SessionId>, StoreError> {
        let reply = self
            .query_cmd(redis::cmd("GET").arg(self.keys.token(key)))
            .await?;
        match reply {
            Value::Nil => Ok(None),
            other => parse_id(other).map(Some),
        }
    }

    /// Adds `id` to `user`'s index, making the index live for at least `cover_ms`.
    pub(super) async fn index_user(
        &self,
        user: &str,
        id: &SessionId,
        cover_ms: u64,
    ) -> Result<(), StoreError> {
        let mut call = INDEX_USER.prepare_invoke();
        call.key(self.keys.user(user))
            .arg(id.to_string())
            .arg(cover_ms);
        self.invoke(&call).await.map(drop)
    }

    /// Removes `ids` from `user`'s index unconditionally (their records are deleted).
    pub(super) async fn unindex_user(
        &self,
        user: &str,
        ids: &[SessionId],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.keys.user(user));
        for id in ids {
            cmd.arg(id.to_string());
        }
        self.query_cmd(&cmd).await.map(drop)
    }

    /// Removes stale `ids` from `user`'s index, except those indexed in the last
    /// [`PRUNE_MARGIN_MS`].
    pub(super) async fn prune_user(&self, user: &str, ids: &[SessionId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut call = PRUNE_USER.prepare_invoke();
        call.key(self.keys.user(user)).arg(PRUNE_MARGIN_MS);
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

    /// Reads the records of `ids`, concurrently, in order (`None` where gone).
    pub(super) async fn fetch(&self, ids: &[SessionId]) -> Result<Vec<Option<Stored>>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let reads = chunk.iter().map(|id| {
                let mut conn = self.conn();
                let key = self.keys.record(id);
                async move {
                    let reply: Value = redis::cmd("HGETALL")
                        .arg(key)
                        .query_async(&mut conn)
                        .await
                        .map_err(backend)?;
                    decode(*id, reply)
                }
            });
            out.extend(try_join_all(reads).await?);
        }
        Ok(out)
    }

    /// The records of `user`'s index that still belong to `user`, pruning the others.
    pub(super) async fn user_records(&self, user: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let ids = self.user_ids(user).await?;
        let stored = self.fetch(&ids).await?;
        let mut stale = Vec::new();
        let mut records = Vec::with_capacity(ids.len());
        for (id, stored) in ids.into_iter().zip(stored) {
            match stored {
                Some(s) if s.record.user.as_deref() == Some(user) => records.push(s.record),
                _ => stale.push(id),
            }
        }
        self.prune_user(user, &stale).await?;
        Ok(records)
    }

    /// Deletes a record under a condition (see [`DELETE`]), then its token index and its user
    /// index entry. Returns whether it deleted.
    pub(super) async fn delete_record(
        &self,
        id: &SessionId,
        mode: &str,
        arg: &str,
    ) -> Result<bool, StoreError> {
        let mut call = DELETE.prepare_invoke();
        call.key(self.keys.record(id)).arg(mode).arg(arg);
        let reply = self.invoke(&call).await?;
        let Some(deleted) = Deleted::from_reply(reply)? else {
            return Ok(false);
        };
        let unlink_token = async {
            if deleted.token.is_empty() {
                return Ok(());
            }
            self.query_cmd(redis::cmd("DEL").arg(self.keys.token_hex(&deleted.token)))
                .await
                .map(drop)
        };
        let unlink_user = async {
            match &deleted.user {
                Some(user) => self.unindex_user(user, std::slice::from_ref(id)).await,
                None => Ok(()),
            }
        };
        futures_util::future::try_join(unlink_token, unlink_user).await?;
        Ok(true)
    }

    /// Applies `patch` through the [`PATCH`] script. `standalone` resolves the token index in
    /// the same call (`KEYS[1]` is then the index, and `target` is ignored).
    pub(super) async fn patch(&self, call: PatchCall<'_>) -> Result<Option<Patched>, StoreError> {
        let PatchCall {
            key,
            expected,
            new,
            now,
            patch,
            standalone,
        } = call;
        let mut inv = PATCH.prepare_invoke();
        inv.key(key).arg(expected).arg(new).arg(now);
        match &patch.user {
            None => inv.arg("").arg(""),
            Some(None) => inv.arg("-").arg(""),
            Some(Some(user)) => inv.arg("=").arg(user.as_str()),
        };
        for at in [patch.last_seen_at, patch.idle_expires_at, patch.expires_at] {
            inv.arg(at.map(|t| millis(t).to_string()).unwrap_or_default());
        }
        inv.arg(EXPIRED_RETENTION_MS).arg(MAX_TTL_MS);
        inv.arg(if standalone { self.keys.prefix() } else { "" });
        for (name, value) in &patch.data {
            match value {
                Some(value) => inv.arg("s").arg(data_field(name)).arg(value.get()),
                None => inv.arg("d").arg(data_field(name)).arg(""),
            };
        }
        Patched::from_reply(self.invoke(&inv).await?)
    }

    /// Indexes `id` under the user `patch` sets, before the patch is written, so the index never
    /// misses the session. Returns what was indexed, or `None` if the patch sets no user or the
    /// record is gone.
    pub(super) async fn index_patch_user(
        &self,
        id: &SessionId,
        patch: &SessionPatch,
        now: u64,
    ) -> Result<Option<(String, u64)>, StoreError> {
        let Some(Some(user)) = &patch.user else {
            return Ok(None);
        };
        let expires = match patch.expires_at {
            Some(at) => millis(at),
            None => {
                let (token, expires): (Option<String>, Option<String>) = redis::cmd("HMGET")
                    .arg(self.keys.record(id))
                    .arg(codec::TOKEN)
                    .arg(codec::EXPIRES_AT)
                    .query_async(&mut self.conn())
                    .await
                    .map_err(backend)?;
                if token.is_none() {
                    // Gone: the patch will find nothing, and the session never comes back.
                    return Ok(None);
                }
                // An unreadable deadline: cover the longest a record can live.
                expires
                    .and_then(|e| e.parse().ok())
                    .unwrap_or_else(|| now.saturating_add(MAX_TTL_MS))
            }
        };
        let cover = cover_ms(expires, now);
        self.index_user(user, id, cover).await?;
        Ok(Some((user.clone(), cover)))
    }

    /// After a patch: makes the current user's index cover the (possibly moved) absolute
    /// deadline, unless the index written before the patch already does.
    pub(super) async fn cover_after_patch(
        &self,
        id: &SessionId,
        patch: &SessionPatch,
        patched: &Patched,
        indexed: Option<(String, u64)>,
        now: u64,
    ) -> Result<(), StoreError> {
        let Some(user) = &patched.user else {
            return Ok(());
        };
        if patch.user.is_none() && patch.expires_at.is_none() {
            return Ok(());
        }
        let cover = cover_ms(patched.expires_at.unwrap_or(u64::MAX), now);
        if matches!(&indexed, Some((u, c)) if u == user && *c >= cover) {
            return Ok(());
        }
        self.index_user(user, id, cover).await
    }
}

/// Arguments of one [`PATCH`] call.
pub(super) struct PatchCall<'a> {
    pub(super) key: String,
    pub(super) expected: &'a str,
    pub(super) new: &'a str,
    pub(super) now: u64,
    pub(super) patch: &'a SessionPatch,
    pub(super) standalone: bool,
}

/// What [`PATCH`] reports after applying a patch.
pub(super) struct Patched {
    /// The public id (standalone form only).
    pub(super) id: Option<SessionId>,
    /// The record's TTL afterwards (ms), or negative if it has none.
    pub(super) pttl: i64,
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
            Value::Array(items) if items.len() == 7 => items,
            _ => return Err(bad()),
        };
        let mut items = items.into_iter();
        let mut next = || items.next().ok_or_else(bad);
        let id = text(next()?).ok_or_else(bad)?;
        let id = if id.is_empty() {
            None
        } else {
            Some(SessionId::parse(&id).ok_or_else(|| corrupt_index(&id))?)
        };
        let pttl = int(next()?).ok_or_else(bad)?;
        let _had_user = next()?;
        let _previous = next()?;
        let has_user = int(next()?).ok_or_else(bad)? == 1;
        let user = text(next()?).ok_or_else(bad)?;
        let expires_at = text(next()?).and_then(|e| e.parse().ok());
        Ok(Some(Self {
            id,
            pttl,
            user: has_user.then_some(user),
            expires_at,
        }))
    }
}

/// What [`DELETE`] reports about the record it deleted.
pub(super) struct Deleted {
    /// Its token hash (hex), empty if it had none.
    pub(super) token: String,
    pub(super) user: Option<String>,
}

impl Deleted {
    pub(super) fn from_reply(reply: Value) -> Result<Option<Self>, StoreError> {
        let bad = || unexpected("the delete script");
        let items = match reply {
            Value::Nil => return Ok(None),
            Value::Array(items) if items.len() == 3 => items,
            _ => return Err(bad()),
        };
        let mut items = items.into_iter();
        let mut next = || items.next().ok_or_else(bad);
        let token = text(next()?).ok_or_else(bad)?;
        let has_user = int(next()?).ok_or_else(bad)? == 1;
        let user = text(next()?).ok_or_else(bad)?;
        Ok(Some(Self {
            token,
            user: has_user.then_some(user),
        }))
    }
}

pub(super) fn parse_id(value: Value) -> Result<SessionId, StoreError> {
    let id = text(value).ok_or_else(|| unexpected("GET of a token index"))?;
    SessionId::parse(&id).ok_or_else(|| corrupt_index(&id))
}

pub(super) fn corrupt_index(value: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "a Redis token index holds {value:?}, not a session id"
    ))
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

/// The TTL a user index needs to outlive a session whose absolute deadline is `expires` (ms).
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
