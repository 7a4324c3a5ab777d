//! Ending sessions by id or by user: deleted, or, with retention, marked ended by the [`END`]
//! script, which gives the record what is left of the retention period; the indexes are made to
//! outlive it so that the session stays listable, by user too, until it is purged.

use futures_util::future::try_join_all;
use redis::Value;

use super::codec::int;
use super::conn::unexpected;
use super::script_call::ScriptCall;
use super::scripts::END;
use super::steps::{now_ms, Deleted, Revoked};
use super::{RedisStore, BATCH, INDEX_SLACK_MS};
use crate::error::StoreError;
use crate::token::SessionId;

/// An end to write: the end field's value, and the record's TTL from now (ms).
pub(super) struct EndMark {
    pub(super) value: String,
    pub(super) ttl: u64,
}

/// What the [`END`] script did.
pub(super) enum Ending {
    /// It marked the record ended (or, sealed by a rotation in flight, revoked).
    Ended,
    /// The record was ended already: kept, and still indexed.
    AlreadyEnded,
    /// No matching record.
    NotFound,
}

impl RedisStore {
    /// The clock that record and index TTLs count from: now, or with retention now minus the
    /// period, so that every record lives the period past its deadline.
    pub(super) fn ttl_clock(&self) -> u64 {
        now_ms().saturating_sub(self.retention_ms())
    }

    /// Marks the record under `hex` ended if it matches (see [`END`]), then makes its id index
    /// and user index entry outlive it.
    pub(super) async fn end_record(
        &self,
        hex: &str,
        mode: &str,
        id: Option<&SessionId>,
        user: &str,
        mark: &EndMark,
    ) -> Result<Ending, StoreError> {
        let rec = self.keys.record(hex);
        let mut call = ScriptCall::new(&END, &[&rec, &self.keys.sealed(hex)]);
        call.arg(mode)
            .arg(id.map(ToString::to_string).unwrap_or_default())
            .arg(user)
            .arg(&mark.value)
            .arg(mark.ttl);
        let _evict = self.evict_after(&rec);
        let reply = self.invoke(&call).await?;
        if matches!(reply, Value::Int(_)) {
            return match int(reply) {
                Some(0) => Ok(Ending::AlreadyEnded),
                _ => Err(unexpected("the end script")),
            };
        }
        let Some(ended) = Deleted::from_reply(reply)? else {
            return Ok(Ending::NotFound);
        };
        if let Some(id) = &ended.id {
            let cover = mark.ttl.saturating_add(INDEX_SLACK_MS);
            let id_key = self.keys.id(id);
            let keep = redis::cmd("PEXPIRE").arg(&id_key).arg(cover).clone();
            let keep_id = self.query_cmd(&keep);
            let keep_user = async {
                match &ended.user {
                    Some(user) => self.index_user(user, id, cover).await,
                    None => Ok(()),
                }
            };
            futures_util::future::try_join(keep_id, keep_user).await?;
        }
        Ok(Ending::Ended)
    }

    /// Revokes the session `id` (of `user` only, if given): follows its id index and deletes
    /// the record there. Should a rotation move the session meanwhile, the index names the new
    /// token hash and the revocation follows it.
    pub(super) async fn revoke(
        &self,
        id: &SessionId,
        user: Option<&str>,
    ) -> Result<Revoked, StoreError> {
        self.follow_id(id, user, None).await
    }

    /// Follows the id index of `id` to its record and deletes it there, or ends it with `end`
    /// (only `user`'s record, if given). A rotation that moves the session meanwhile makes
    /// the index name the new token hash, which is then tried (a few times at most).
    pub(super) async fn follow_id(
        &self,
        id: &SessionId,
        user: Option<&str>,
        end: Option<&EndMark>,
    ) -> Result<Revoked, StoreError> {
        let (mode, arg) = match user {
            Some(user) => ("u", user),
            None => ("i", ""),
        };
        let mut seen: Option<String> = None;
        for _ in 0..4 {
            let Some(hex) = self.resolve(id).await? else {
                return Ok(Revoked::Unindexed);
            };
            if seen.as_deref() == Some(hex.as_str()) {
                break;
            }
            let done = match end {
                None => self
                    .delete_record(&hex, mode, Some(id), arg)
                    .await?
                    .then_some(Revoked::Done),
                Some(mark) => match self.end_record(&hex, mode, Some(id), arg, mark).await? {
                    Ending::Ended => Some(Revoked::Done),
                    Ending::AlreadyEnded => Some(Revoked::AlreadyEnded),
                    Ending::NotFound => None,
                },
            };
            if let Some(done) = done {
                return Ok(done);
            }
            seen = Some(hex);
        }
        Ok(Revoked::NotFound)
    }

    /// Ends the session `id` (of `user` only, if given), following its id index as
    /// [`revoke`](Self::revoke) does.
    pub(super) async fn end_by_id(
        &self,
        id: &SessionId,
        user: Option<&str>,
        mark: &EndMark,
    ) -> Result<Revoked, StoreError> {
        self.follow_id(id, user, Some(mark)).await
    }

    /// Ends every session of `user` but `except`: deleted, or with `end` marked ended;
    /// returns how many ended. Ids that lead nowhere (or now to another user's session) are
    /// pruned from the user index; ended ones are kept.
    pub(super) async fn end_all_of_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
        end: Option<&EndMark>,
    ) -> Result<u64, StoreError> {
        let ids: Vec<SessionId> = self
            .user_ids(user)
            .await?
            .into_iter()
            .filter(|id| Some(id) != except)
            .collect();
        let mut ended = 0;
        let mut stale = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let results =
                try_join_all(chunk.iter().map(|id| self.follow_id(id, Some(user), end))).await?;
            for (id, result) in chunk.iter().zip(results) {
                match result {
                    Revoked::Done => ended += 1,
                    Revoked::AlreadyEnded => {}
                    Revoked::Unindexed | Revoked::NotFound => stale.push(*id),
                }
            }
        }
        self.prune_user(user, &stale).await?;
        Ok(ended)
    }
}
