//! The [`SessionStore`] contract, each operation as a sequence of steps (see [`RedisStore`]).

use std::time::SystemTime;

use futures_util::future::try_join_all;
use redis::Value;

use super::codec::{self, decode, int, millis};
use super::conn::{backend, unexpected, Conn, Scan};
use super::keys::Kind;
use super::scripts::{CREATE, CREATE_STANDALONE, LOAD_STANDALONE};
use super::steps::{corrupt_index, cover_ms, newest_first, now_ms, parse_id, ttl_ms, PatchCall};
use super::{RedisStore, BATCH, EXPIRED_RETENTION_MS};
use crate::error::StoreError;
use crate::store::{SessionPatch, SessionQuery, SessionRecord, SessionStore};
use crate::token::{SessionId, TokenHash};

impl SessionStore for RedisStore {
    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        let now = now_ms();
        let ttl = ttl_ms(millis(record.deadline()), now);
        let token_key = self.keys.token(key);
        if let Conn::Standalone(_) = &self.conn {
            // One round trip: the index claim and the record in one script (a single server
            // has no slots to keep apart). The user index still comes first, as below.
            if let Some(user) = &record.user {
                self.index_user(user, &record.id, cover_ms(millis(record.expires_at), now))
                    .await?;
            }
            let mut call = CREATE_STANDALONE.prepare_invoke();
            call.key(&token_key)
                .key(self.keys.record(&record.id))
                .arg(ttl)
                .arg(record.id.to_string());
            for (field, value) in codec::encode(key.to_hex(), &record) {
                call.arg(field).arg(value);
            }
            return match int(self.invoke(&call).await?) {
                Some(1) => Ok(()),
                Some(0 | -1) => Err(StoreError::Conflict),
                _ => Err(unexpected("create")),
            };
        }
        let claimed = self
            .query_cmd(
                redis::cmd("SET")
                    .arg(&token_key)
                    .arg(record.id.to_string())
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl),
            )
            .await?;
        if claimed == Value::Nil {
            return Err(StoreError::Conflict);
        }
        if let Some(user) = &record.user {
            self.index_user(user, &record.id, cover_ms(millis(record.expires_at), now))
                .await?;
        }
        let mut call = CREATE.prepare_invoke();
        call.key(self.keys.record(&record.id)).arg(ttl);
        for (field, value) in codec::encode(key.to_hex(), &record) {
            call.arg(field).arg(value);
        }
        let created = int(self.invoke(&call).await?).ok_or_else(|| unexpected("create"))?;
        if created == 0 {
            // The id is taken: give the token index back. Should that fail, the stale index
            // names a record holding another token hash, which loads as nothing.
            let _ = self.query_cmd(redis::cmd("DEL").arg(&token_key)).await;
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let hex = key.to_hex();
        let (id, reply) = match &self.conn {
            Conn::Standalone(_) => {
                let mut call = LOAD_STANDALONE.prepare_invoke();
                call.key(self.keys.token_hex(&hex)).arg(self.keys.prefix());
                let items = match self.invoke(&call).await? {
                    Value::Nil => return Ok(None),
                    Value::Array(items) if items.len() == 2 => items,
                    _ => return Err(unexpected("the load script")),
                };
                let mut items = items.into_iter();
                let (Some(id), Some(reply)) = (items.next(), items.next()) else {
                    return Err(unexpected("the load script"));
                };
                (parse_id(id)?, reply)
            }
            Conn::Cluster(_) => {
                let Some(id) = self.resolve(key).await? else {
                    return Ok(None);
                };
                let reply = self
                    .query_cmd(redis::cmd("HGETALL").arg(self.keys.record(&id)))
                    .await?;
                (id, reply)
            }
        };
        // A record holding another token hash was rotated away from this one: stale index.
        Ok(decode(id, reply)?
            .filter(|stored| stored.token == hex)
            .map(|stored| stored.record))
    }

    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        let now = now_ms();
        let hex = key.to_hex();
        let token_key = self.keys.token_hex(&hex);
        let sets_user = matches!(patch.user, Some(Some(_)));
        if matches!(self.conn, Conn::Standalone(_)) && !sets_user {
            // One round trip: the script resolves the index itself.
            let call = PatchCall {
                key: token_key,
                expected: &hex,
                new: "",
                now,
                patch,
                standalone: true,
            };
            let Some(patched) = self.patch(call).await? else {
                return Ok(false);
            };
            let id = patched.id.ok_or_else(|| unexpected("the patch script"))?;
            self.cover_after_patch(&id, patch, &patched, None, now)
                .await?;
            return Ok(true);
        }
        let Some(id) = self.resolve(key).await? else {
            return Ok(false);
        };
        let indexed = self.index_patch_user(&id, patch, now).await?;
        let call = PatchCall {
            key: self.keys.record(&id),
            expected: &hex,
            new: "",
            now,
            patch,
            standalone: false,
        };
        let Some(patched) = self.patch(call).await? else {
            return Ok(false);
        };
        let moved = patch.idle_expires_at.is_some() || patch.expires_at.is_some();
        if moved && patched.pttl > 0 {
            self.query_cmd(redis::cmd("PEXPIRE").arg(&token_key).arg(patched.pttl))
                .await?;
        }
        self.cover_after_patch(&id, patch, &patched, indexed, now)
            .await?;
        Ok(true)
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let (old_hex, new_hex) = (old.to_hex(), new.to_hex());
        let (old_key, new_key) = (self.keys.token_hex(&old_hex), self.keys.token_hex(&new_hex));
        let (id, pttl): (Option<String>, i64) = redis::pipe()
            .cmd("GET")
            .arg(&old_key)
            .cmd("PTTL")
            .arg(&old_key)
            .query_async(&mut self.conn())
            .await
            .map_err(backend)?;
        let Some(id) = id else {
            return Ok(false);
        };
        let id = SessionId::parse(&id).ok_or_else(|| corrupt_index(&id))?;
        // Until the patch sets the exact TTL, the new index lives as long as the old one.
        let provisional = u64::try_from(pttl)
            .ok()
            .filter(|&ms| ms > 0)
            .unwrap_or(EXPIRED_RETENTION_MS);
        let claimed = self
            .query_cmd(
                redis::cmd("SET")
                    .arg(&new_key)
                    .arg(id.to_string())
                    .arg("NX")
                    .arg("PX")
                    .arg(provisional),
            )
            .await?;
        if claimed == Value::Nil {
            return Err(StoreError::Conflict);
        }
        let release_new = || async {
            let _ = self.query_cmd(redis::cmd("DEL").arg(&new_key)).await;
        };
        let indexed = match self.index_patch_user(&id, patch, now).await {
            Ok(indexed) => indexed,
            Err(err) => {
                release_new().await;
                return Err(err);
            }
        };
        let call = PatchCall {
            key: self.keys.record(&id),
            expected: &old_hex,
            new: &new_hex,
            now,
            patch,
            standalone: false,
        };
        // On an error the script may have run: keep the new index, which then is the live one
        // (or a stale one that expires).
        let Some(patched) = self.patch(call).await? else {
            release_new().await;
            return Ok(false);
        };
        let drop_old = async { self.query_cmd(redis::cmd("DEL").arg(&old_key)).await };
        let expire_new = async {
            if patched.pttl > 0 {
                self.query_cmd(redis::cmd("PEXPIRE").arg(&new_key).arg(patched.pttl))
                    .await
            } else {
                Ok(Value::Nil)
            }
        };
        futures_util::future::try_join(drop_old, expire_new).await?;
        self.cover_after_patch(&id, patch, &patched, indexed, now)
            .await?;
        Ok(true)
    }

    async fn delete(&self, key: &TokenHash) -> Result<bool, StoreError> {
        let Some(id) = self.resolve(key).await? else {
            return Ok(false);
        };
        let deleted = self.delete_record(&id, "t", &key.to_hex()).await?;
        if !deleted {
            // The index names a record that is gone or holds another token: it is stale.
            self.query_cmd(redis::cmd("DEL").arg(self.keys.token(key)))
                .await?;
        }
        Ok(deleted)
    }

    async fn delete_by_id(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.delete_record(id, "i", "").await
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
        let ids: Vec<SessionId> = self
            .user_ids(user)
            .await?
            .into_iter()
            .filter(|id| Some(id) != except)
            .collect();
        let mut deleted = 0;
        let mut stale = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let results =
                try_join_all(chunk.iter().map(|id| self.delete_record(id, "u", user))).await?;
            for (id, done) in chunk.iter().zip(results) {
                if done {
                    deleted += 1;
                } else {
                    stale.push(*id);
                }
            }
        }
        // Ids whose record is gone or belongs to another user.
        self.prune_user(user, &stale).await?;
        Ok(deleted)
    }

    async fn delete_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        let now = millis(now).to_string();
        let mut scan = Scan::new(self.keys.scan_all());
        let mut conn = self.conn();
        let mut purged = 0;
        while let Some(batch) = scan.next(&mut conn).await? {
            let mut records = Vec::new();
            let mut users = Vec::new();
            for key in batch {
                match self.keys.classify(&key) {
                    Kind::Record(id) => records.push(id),
                    Kind::User(user) => users.push(user),
                    Kind::Other => {}
                }
            }
            for chunk in records.chunks(BATCH) {
                let results =
                    try_join_all(chunk.iter().map(|id| self.delete_record(id, "x", &now))).await?;
                purged += results.into_iter().filter(|&done| done).count() as u64;
            }
            for user in users {
                let ids = self.user_ids(&user).await?;
                let mut gone = Vec::new();
                for chunk in ids.chunks(BATCH) {
                    let exists = try_join_all(chunk.iter().map(|id| {
                        let cmd = redis::cmd("EXISTS").arg(self.keys.record(id)).clone();
                        async move { self.query_cmd(&cmd).await }
                    }))
                    .await?;
                    for (id, exists) in chunk.iter().zip(exists) {
                        if int(exists) == Some(0) {
                            gone.push(*id);
                        }
                    }
                }
                self.prune_user(&user, &gone).await?;
            }
        }
        Ok(purged)
    }

    async fn query(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        let mut records = match &query.user {
            Some(user) => self.user_records(user).await?,
            None => {
                let mut records = Vec::new();
                let mut scan = Scan::new(self.keys.scan_records());
                let mut conn = self.conn();
                while let Some(batch) = scan.next(&mut conn).await? {
                    let ids: Vec<SessionId> = batch
                        .iter()
                        .filter_map(|key| match self.keys.classify(key) {
                            Kind::Record(id) => Some(id),
                            _ => None,
                        })
                        .collect();
                    records.extend(
                        self.fetch(&ids)
                            .await?
                            .into_iter()
                            .flatten()
                            .map(|s| s.record),
                    );
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
