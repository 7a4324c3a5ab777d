//! The [`SessionStore`](crate::store::SessionStore) operations that every SQL backend runs the
//! same way, statement for statement, written once.
//!
//! A macro rather than generic functions: sqlx has no trait for a query result's
//! `rows_affected`, and the bounds that make one `sqlx::query(..).bind(..).execute(pool)`
//! generic over three engines would be longer than the code they share.

/// Expands, inside a backend's `impl SessionStore`, to `load_by_id`, `delete`, `delete_by_id`,
/// `list_by_user`, `count_by_user`, `count_active`, `delete_by_user`, `delete_expired`, `end`,
/// `retention` and `query`.
///
/// The backend has `self.pool` (its sqlx pool), `self.lanes` (the connections it keeps for
/// the request path: logout and revocation run there too), `self.retention` (its retention
/// period), `self.sql` (its statements, with fields `load_by_id`, `delete`, `delete_by_id`, `count_by_user`,
/// `count_active`, `delete_by_user`, `delete_by_user_except`, `delete_expired`, `end` (an
/// [`EndStatements`](crate::store::sql::EndStatements)) and `select`) and a `decode` function
/// for its rows (and `decode_keyed` for those of `load_by_id`). `placeholder` is its
/// parameter style; `user` turns a user name into what its user column binds.
macro_rules! shared_sql_operations {
    (placeholder: $placeholder:expr, user: $user:path) => {
        async fn load_by_id(
            &self,
            id: &$crate::token::SessionId,
        ) -> Result<
            Option<($crate::token::TokenHash, $crate::store::SessionRecord)>,
            $crate::error::StoreError,
        > {
            let row = sqlx::query(&self.sql.load_by_id)
                .bind(&id.0[..])
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::sql::db_error)?;
            row.as_ref().map(decode_keyed).transpose()
        }

        async fn delete(
            &self,
            key: &$crate::token::TokenHash,
        ) -> Result<bool, $crate::error::StoreError> {
            let query = sqlx::query(&self.sql.delete).bind(&key.0[..]);
            let done = self
                .lanes
                .execute(&self.pool, query)
                .await
                .map_err($crate::store::sql::db_error)?;
            Ok(done.rows_affected() > 0)
        }

        async fn delete_by_id(
            &self,
            id: &$crate::token::SessionId,
        ) -> Result<bool, $crate::error::StoreError> {
            let query = sqlx::query(&self.sql.delete_by_id).bind(&id.0[..]);
            let done = self
                .lanes
                .execute(&self.pool, query)
                .await
                .map_err($crate::store::sql::db_error)?;
            Ok(done.rows_affected() > 0)
        }

        async fn list_by_user(
            &self,
            user: &str,
            now: std::time::SystemTime,
        ) -> Result<Vec<$crate::store::SessionRecord>, $crate::error::StoreError> {
            let query = $crate::store::SessionQuery {
                state: $crate::store::SessionState::Active,
                user: Some(user.to_owned()),
                now,
                offset: 0,
                limit: usize::MAX,
            };
            self.query(&query).await
        }

        async fn count_active(
            &self,
            now: std::time::SystemTime,
        ) -> Result<$crate::store::ActiveCounts, $crate::error::StoreError> {
            let (sessions, users): (i64, i64) = sqlx::query_as(&self.sql.count_active)
                .bind($crate::store::sql::millis(now))
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store::sql::db_error)?;
            Ok($crate::store::ActiveCounts {
                sessions: $crate::store::sql::count(sessions)?,
                users: $crate::store::sql::count(users)?,
            })
        }

        async fn count_by_user(
            &self,
            user: &str,
            now: std::time::SystemTime,
        ) -> Result<u64, $crate::error::StoreError> {
            let n: i64 = sqlx::query_scalar(&self.sql.count_by_user)
                .bind($user(user))
                .bind($crate::store::sql::millis(now))
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store::sql::db_error)?;
            $crate::store::sql::count(n)
        }

        async fn delete_by_user(
            &self,
            user: &str,
            except: Option<&$crate::token::SessionId>,
        ) -> Result<u64, $crate::error::StoreError> {
            let query = match except {
                Some(id) => sqlx::query(&self.sql.delete_by_user_except)
                    .bind($user(user))
                    .bind(&id.0[..]),
                None => sqlx::query(&self.sql.delete_by_user).bind($user(user)),
            };
            let done = query
                .execute(&self.pool)
                .await
                .map_err($crate::store::sql::db_error)?;
            Ok(done.rows_affected())
        }

        async fn delete_expired(
            &self,
            now: std::time::SystemTime,
        ) -> Result<u64, $crate::error::StoreError> {
            let done = sqlx::query(&self.sql.delete_expired)
                .bind($crate::store::sql::purge_cutoff(now, self.retention))
                .execute(&self.pool)
                .await
                .map_err($crate::store::sql::db_error)?;
            Ok(done.rows_affected())
        }

        async fn end(
            &self,
            target: $crate::store::EndTarget<'_>,
            ended: $crate::store::Ended,
        ) -> Result<u64, $crate::error::StoreError> {
            use $crate::store::EndTarget;
            if self.retention.is_none() {
                return Ok(match target {
                    EndTarget::Key(key) => u64::from(self.delete(key).await?),
                    EndTarget::Id(id) => u64::from(self.delete_by_id(id).await?),
                    EndTarget::User { user, except } => self.delete_by_user(user, except).await?,
                });
            }
            let at = $crate::store::sql::millis(ended.at);
            let query = sqlx::query(self.sql.end.get(&target))
                .bind(at)
                .bind(ended.reason.as_str())
                .bind(at);
            let query = match target {
                EndTarget::Key(key) => query.bind(&key.0[..]),
                EndTarget::Id(id) => query.bind(&id.0[..]),
                EndTarget::User { user, except } => {
                    let query = query.bind($user(user));
                    match except {
                        Some(id) => query.bind(&id.0[..]),
                        None => query,
                    }
                }
            };
            let done = self
                .lanes
                .execute(&self.pool, query)
                .await
                .map_err($crate::store::sql::db_error)?;
            Ok(done.rows_affected())
        }

        fn retention(&self) -> Option<std::time::Duration> {
            self.retention
        }

        async fn query(
            &self,
            query: &$crate::store::SessionQuery,
        ) -> Result<Vec<$crate::store::SessionRecord>, $crate::error::StoreError> {
            use $crate::store::sql;
            let text = sql::query_sql(&self.sql.select, query, $placeholder);
            let mut statement = sqlx::query(&text);
            if query.state != $crate::store::SessionState::All {
                statement = statement.bind(sql::millis(query.now));
            }
            if let Some(user) = &query.user {
                statement = statement.bind($user(user));
            }
            let (limit, offset) = sql::page(query);
            let rows = statement
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await
                .map_err(sql::db_error)?;
            rows.iter().map(decode).collect()
        }
    };
}

/// Expands, inside the `impl SessionStore` of SQLite or MySQL, to `update` and `rotate`: one of
/// the statements of `self.sql.patch` (a
/// [`PatchStatements`](crate::store::sql::patch::PatchStatements)), chosen by what the patch
/// changes, run on a connection of `self.lanes` (the request path's kept connections). `user`
/// turns a user name into what the user column binds.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
macro_rules! shaped_patch_operations {
    (user: $user:path) => {
        async fn update(
            &self,
            key: &$crate::token::TokenHash,
            patch: &$crate::store::SessionPatch,
        ) -> Result<bool, $crate::error::StoreError> {
            let params = $crate::store::sql::patch::PatchParams::new(patch);
            let shape = params.shape();
            let query = sqlx::query(self.sql.patch.update(shape));
            let query = $crate::store::sql::patch::bind_patch(query, &params, shape, $user)?
                .bind(&key.0[..]);
            let done = self
                .lanes
                .execute(&self.pool, query)
                .await
                .map_err($crate::store::sql::db_error)?;
            // Rows matched, even if unchanged (the MySQL driver connects with
            // CLIENT_FOUND_ROWS): `false` only when the session is gone.
            Ok(done.rows_affected() > 0)
        }

        async fn rotate(
            &self,
            old: &$crate::token::TokenHash,
            new: &$crate::token::TokenHash,
            patch: &$crate::store::SessionPatch,
        ) -> Result<bool, $crate::error::StoreError> {
            let params = $crate::store::sql::patch::PatchParams::new(patch);
            let shape = params.shape();
            let query = sqlx::query(self.sql.patch.rotate(shape)).bind(&new.0[..]);
            let query = $crate::store::sql::patch::bind_patch(query, &params, shape, $user)?
                .bind(&old.0[..]);
            let done = self
                .lanes
                .execute(&self.pool, query)
                .await
                .map_err($crate::store::sql::db_error)?;
            Ok(done.rows_affected() > 0)
        }
    };
}
