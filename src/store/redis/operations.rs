//! The [`SessionStore`] contract, each operation as a sequence of steps (see [`RedisStore`]).

use std::time::SystemTime;

use futures_util::future::try_join_all;
use redis::Value;

use super::admit_lock::Lease;
use super::codec::{self, decode, hgetall, int, millis};
use super::conn::{unexpected, Scan};
use super::ending::{EndMark, Ending};
use super::keys::Kind;
use super::script_call::ScriptCall;
use super::scripts::{
    CREATE, CREATE_STANDALONE, FINISH, ROTATE_STANDALONE, SEAL, UNLINK_ID, UNSEAL,
};
use super::steps::{
    cover_ms, needs_report, newest_first, now_ms, patch_args, patch_data, ttl_ms, Indexed, Patched,
    Revoked,
};
use super::{RedisStore, BATCH, INDEX_SLACK_MS};
use crate::error::StoreError;
use crate::store::{
    admit_in_steps, ActiveCounts, Admission, Admitted, EndTarget, Ended, SessionLimits,
    SessionPatch, SessionQuery, SessionRecord, SessionStore,
};
use crate::token::{SessionId, TokenHash};

impl SessionStore for RedisStore {
    /// Atomic: the steps run while this login holds a lease key (per user, or one for the
    /// store with a store-wide limit), set with `SET NX PX` and released compare-and-delete.
    /// A lease its holder lost (a crashed process) expires after 10 s.
    async fn admit(
        &self,
        user: &str,
        admission: Admission<'_>,
        limits: &SessionLimits,
        now: SystemTime,
    ) -> Result<Admitted, StoreError> {
        let lease = Lease::take(self, limits.lock_scope(user)).await?;
        let admitted = admit_in_steps(self, user, admission, limits, now).await;
        lease.release().await;
        admitted
    }

    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        let now = self.ttl_clock();
        let hex = key.to_hex();
        let ttl = ttl_ms(millis(record.deadline()), now);
        let cover = cover_ms(millis(record.expires_at), now);
        let (rec, id_key) = (self.keys.record(&hex), self.keys.id(&record.id));
        // Indexes are written before the record, so they never miss a live session.
        if let Some(user) = &record.user {
            self.index_user(user, &record.id, cover).await?;
        }
        if self.is_standalone() {
            // One round trip: a single server has no slots to keep apart.
            let mut call = ScriptCall::new(&CREATE_STANDALONE, &[&rec, &id_key]);
            call.arg(ttl).arg(cover).arg(&hex);
            codec::encode_into(&record, &mut call);
            return match int(self.invoke_untracked(&call).await?) {
                Some(1) => Ok(()),
                Some(0) => Err(StoreError::Conflict),
                _ => Err(unexpected("create")),
            };
        }
        let claimed = self
            .query_cmd(
                redis::cmd("SET")
                    .arg(&id_key)
                    .arg(&hex)
                    .arg("NX")
                    .arg("PX")
                    .arg(cover),
            )
            .await?;
        if claimed == Value::Nil {
            return Err(StoreError::Conflict);
        }
        let mut call = ScriptCall::new(&CREATE, &[&rec]);
        call.arg(ttl);
        codec::encode_into(&record, &mut call);
        let created =
            int(self.invoke_untracked(&call).await?).ok_or_else(|| unexpected("create"))?;
        if created == 0 {
            // The token hash is taken: give the id index back.
            let mut call = ScriptCall::new(&UNLINK_ID, &[&id_key]);
            call.arg(&hex);
            let _ = self.invoke(&call).await;
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        // One plain command, on a single server as on a cluster.
        let rec = self.keys.record_of(key);
        let found = match &self.near {
            Some(near) => {
                let bypass = || async { self.query_cmd(&hgetall(&rec)).await };
                near.read(&rec, bypass).await?
            }
            None => decode(self.query_cmd(&hgetall(&rec)).await?)?,
        };
        // An ended session (kept for listing) is never found by its token.
        Ok(found.filter(|record| record.ended.is_none()))
    }

    /// Two round trips: the id index names the record's key, then `HGETALL` reads it. A
    /// rotation between the two moves the record; the index then names its new key, which is
    /// read once more.
    async fn load_by_id(
        &self,
        id: &SessionId,
    ) -> Result<Option<(TokenHash, SessionRecord)>, StoreError> {
        let mut tried: Option<String> = None;
        loop {
            let Some(hex) = self.resolve(id).await? else {
                return Ok(None);
            };
            if tried.as_ref() == Some(&hex) {
                return Ok(None);
            }
            let mut hash = [0u8; 32];
            if hex::decode_to_slice(&hex, &mut hash).is_err() {
                return Err(unexpected("GET of an id index"));
            }
            let reply = self.query_cmd(&hgetall(&self.keys.record(&hex))).await?;
            let mut found = decode(reply)?;
            if found.is_none() && !self.is_standalone() {
                // A rotation in flight on a cluster has moved the record aside (sealed) until
                // the id index names the new key: the session is there all the same, under
                // the key it is still known by.
                let sealed = self.query_cmd(&hgetall(&self.keys.sealed(&hex))).await?;
                found = decode(sealed)?;
            }
            match found {
                // As `load`: an ended session is never found.
                Some(record) if record.id == *id => {
                    return Ok((record.ended.is_none()).then_some((TokenHash(hash), record)));
                }
                _ if tried.is_some() => return Ok(None),
                _ => tried = Some(hex),
            }
        }
    }

    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        let now = self.ttl_clock();
        let hex = key.to_hex();
        let indexed = self
            .index_patch_user(&self.keys.record(&hex), patch, now)
            .await?;
        if matches!(indexed, Indexed::Gone) {
            return Ok(false);
        }
        let Some(patched) = self.patch(&hex, now, patch, needs_report(patch)).await? else {
            return Ok(false);
        };
        self.cover_after_patch(&patched, &indexed, false, now)
            .await?;
        Ok(true)
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        let now = self.ttl_clock();
        let (old_hex, new_hex) = (old.to_hex(), new.to_hex());
        let (old_rec, new_rec) = (self.keys.record(&old_hex), self.keys.record(&new_hex));
        let indexed = self.index_patch_user(&old_rec, patch, now).await?;
        if matches!(indexed, Indexed::Gone) {
            return Ok(false);
        }
        if !self.is_standalone() {
            return self
                .rotate_cluster(&old_hex, &new_hex, patch, indexed, now)
                .await;
        }
        let mut call = ScriptCall::new(&ROTATE_STANDALONE, &[&old_rec, &new_rec]);
        patch_args(&mut call, now, patch, true);
        call.arg(self.keys.prefix())
            .arg(&new_hex)
            .arg(INDEX_SLACK_MS);
        patch_data(&mut call, patch);
        let _evict = self.evict_after(&old_rec);
        let reply = self.invoke(&call).await?;
        if matches!(reply, Value::Int(-1)) {
            return Err(StoreError::Conflict);
        }
        let Some(patched) = Patched::from_reply(reply)? else {
            return Ok(false);
        };
        self.cover_after_patch(&patched, &indexed, true, now)
            .await?;
        Ok(true)
    }

    async fn delete(&self, key: &TokenHash) -> Result<bool, StoreError> {
        self.delete_record(&key.to_hex(), "t", None, "").await
    }

    async fn delete_by_id(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(matches!(self.revoke(id, None).await?, Revoked::Done))
    }

    async fn list_by_user(
        &self,
        user: &str,
        now: SystemTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let mut records = self.user_records(user).await?;
        records.retain(|r| r.is_active(now));
        newest_first(&mut records);
        Ok(records)
    }

    async fn count_by_user(&self, user: &str, now: SystemTime) -> Result<u64, StoreError> {
        let records = self.user_records(user).await?;
        Ok(records.iter().filter(|r| r.is_active(now)).count() as u64)
    }

    async fn delete_by_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
    ) -> Result<u64, StoreError> {
        self.end_all_of_user(user, except, None).await
    }

    async fn delete_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        let now = millis(now).saturating_sub(self.retention_ms()).to_string();
        let mut scan = Scan::new(self.keys.scan_all());
        let mut conn = self.conn();
        let mut purged = 0;
        while let Some(batch) = scan.next(&mut conn).await? {
            let mut records = Vec::new();
            let mut users = Vec::new();
            for key in batch {
                match self.keys.classify(&key) {
                    Kind::Record(hex) => records.push(hex),
                    Kind::User(user) => users.push(user),
                    Kind::Other => {}
                }
            }
            for chunk in records.chunks(BATCH) {
                let results = try_join_all(
                    chunk
                        .iter()
                        .map(|hex| self.delete_record(hex, "x", None, &now)),
                )
                .await?;
                purged += results.into_iter().filter(|&done| done).count() as u64;
            }
            for user in users {
                // Ids whose id index is gone: their session ended at least a minute ago.
                let ids = self.user_ids(&user).await?;
                let hexes = self.resolve_all(&ids).await?;
                let gone: Vec<SessionId> = ids
                    .into_iter()
                    .zip(hexes)
                    .filter_map(|(id, hex)| hex.is_none().then_some(id))
                    .collect();
                self.prune_user(&user, &gone).await?;
            }
        }
        Ok(purged)
    }

    async fn end(&self, target: EndTarget<'_>, ended: Ended) -> Result<u64, StoreError> {
        if self.retention.is_none() {
            return Ok(match target {
                EndTarget::Key(key) => u64::from(self.delete(key).await?),
                EndTarget::Id(id) => u64::from(self.delete_by_id(id).await?),
                EndTarget::User { user, except } => self.delete_by_user(user, except).await?,
            });
        }
        let mark = EndMark {
            value: codec::end_value(&ended),
            ttl: ttl_ms(
                millis(ended.at).saturating_add(self.retention_ms()),
                now_ms(),
            ),
        };
        Ok(match target {
            EndTarget::Key(key) => {
                let hex = key.to_hex();
                let ending = self.end_record(&hex, "t", None, "", &mark).await?;
                u64::from(matches!(ending, Ending::Ended))
            }
            EndTarget::Id(id) => u64::from(matches!(
                self.end_by_id(id, None, &mark).await?,
                Revoked::Done
            )),
            EndTarget::User { user, except } => {
                self.end_all_of_user(user, except, Some(&mark)).await?
            }
        })
    }

    fn retention(&self) -> Option<std::time::Duration> {
        self.retention
    }

    /// One pass over the store's records (the default would page through `query`, which
    /// reads every record for each page).
    async fn count_active(&self, now: SystemTime) -> Result<ActiveCounts, StoreError> {
        let mut sessions = std::collections::HashSet::new();
        let mut users = std::collections::HashSet::new();
        let mut scan = Scan::new(self.keys.scan_records());
        let mut conn = self.conn();
        while let Some(batch) = scan.next(&mut conn).await? {
            let hexes: Vec<String> = batch
                .iter()
                .filter_map(|key| match self.keys.classify(key) {
                    Kind::Record(hex) => Some(hex),
                    _ => None,
                })
                .collect();
            for record in self.fetch(&hexes).await?.into_iter().flatten() {
                if !record.is_active(now) {
                    continue;
                }
                // SCAN may return a key twice: count each session once.
                if let Some(user) = record.user {
                    if sessions.insert(record.id) {
                        users.insert(user);
                    }
                }
            }
        }
        Ok(ActiveCounts {
            sessions: sessions.len() as u64,
            users: users.len() as u64,
        })
    }

    async fn query(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        let mut records = match &query.user {
            Some(user) => self.user_records(user).await?,
            None => {
                let mut records = Vec::new();
                let mut scan = Scan::new(self.keys.scan_records());
                let mut conn = self.conn();
                while let Some(batch) = scan.next(&mut conn).await? {
                    let hexes: Vec<String> = batch
                        .iter()
                        .filter_map(|key| match self.keys.classify(key) {
                            Kind::Record(hex) => Some(hex),
                            _ => None,
                        })
                        .collect();
                    records.extend(self.fetch(&hexes).await?.into_iter().flatten());
                }
                // SCAN may return a key twice.
                records.sort_by_key(|r| r.id);
                records.dedup_by(|a, b| a.id == b.id);
                records
            }
        };
        records.retain(|r| query.matches(r));
        newest_first(&mut records);
        Ok(records
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect())
    }
}

impl RedisStore {
    /// `rotate` on a cluster, where the old and new records live in different slots: seal the
    /// old record (the old token is dead from here on), write the new one, point the id index
    /// at it, then drop the sealed record, unless a revocation marked it meanwhile.
    async fn rotate_cluster(
        &self,
        old_hex: &str,
        new_hex: &str,
        patch: &SessionPatch,
        indexed: Indexed,
        now: u64,
    ) -> Result<bool, StoreError> {
        let (old_rec, sealed) = (self.keys.record(old_hex), self.keys.sealed(old_hex));
        let _evict = self.evict_after(&old_rec);
        let call = ScriptCall::new(&SEAL, &[&old_rec, &sealed]);
        let reply = self.invoke(&call).await?;
        if reply == Value::Nil {
            return Ok(false);
        }
        let unseal = || async {
            let call = ScriptCall::new(&UNSEAL, &[&sealed, &old_rec]);
            let _ = self.invoke(&call).await;
        };
        let mut record = match decode(reply) {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(false),
            Err(err) => {
                unseal().await;
                return Err(err);
            }
        };
        record.apply(patch);
        let ttl = ttl_ms(millis(record.deadline()), now);
        let cover = cover_ms(millis(record.expires_at), now);
        let new_rec = self.keys.record(new_hex);
        let mut call = ScriptCall::new(&CREATE, &[&new_rec]);
        call.arg(ttl);
        codec::encode_into(&record, &mut call);
        // On an error the new record may or may not exist: the session ends (fails closed).
        if int(self.invoke(&call).await?).ok_or_else(|| unexpected("create"))? == 0 {
            unseal().await;
            return Err(StoreError::Conflict);
        }
        let id_key = self.keys.id(&record.id);
        let pointed = self
            .query_cmd(
                redis::cmd("SET")
                    .arg(&id_key)
                    .arg(new_hex)
                    .arg("PX")
                    .arg(cover),
            )
            .await;
        let finished = match pointed {
            Ok(_) => {
                let call = ScriptCall::new(&FINISH, &[&sealed]);
                self.invoke(&call).await.map(|r| int(r) == Some(1))
            }
            Err(err) => Err(err),
        };
        if !matches!(finished, Ok(true)) {
            // Revoked while sealed, or a step failed: the new record must not outlive it.
            self.query_cmd(redis::cmd("DEL").arg(&new_rec)).await?;
            self.unlink(&record.id, new_hex, record.user.as_deref())
                .await?;
            return finished.map(|_| false);
        }
        let patched = Patched {
            id: Some(record.id),
            user: record.user.clone(),
            expires_at: Some(millis(record.expires_at)),
        };
        if needs_report(patch) {
            self.cover_after_patch(&patched, &indexed, true, now)
                .await?;
        }
        Ok(true)
    }
}
