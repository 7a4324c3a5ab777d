//! A signed-in user's view of their own sessions: one per device or browser. List them, end
//! one, all, or all but this one. Every call acts on the store at once, so an ended session's
//! token is refused on its next request by every instance that shares the store (in the
//! stateless bearer mode, its access tokens at once by this instance, by the others once they
//! expire).

use std::net::IpAddr;
use std::time::SystemTime;

use serde::Serialize;

use super::Session;
use crate::audit::AuditKind;
use crate::error::SessionError;
use crate::store::{EndReason, EndTarget, Ended, SessionRecord};
use crate::token::SessionId;

/// One of the signed-in user's sessions, as [`Session::list_mine`] lists it: where and when it
/// started, and its deadlines. It never holds the session's data, token or token hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeviceSession {
    /// The public session id, to pass to [`Session::revoke`].
    pub id: SessionId,
    /// When the session was created.
    #[serde(with = "rfc3339")]
    pub created_at: SystemTime,
    /// When activity was last recorded (renewals are throttled).
    #[serde(with = "rfc3339")]
    pub last_seen_at: SystemTime,
    /// When the session ends however active (its absolute deadline).
    #[serde(with = "rfc3339")]
    pub expires_at: SystemTime,
    /// When the session ends if unused (its idle deadline).
    #[serde(with = "rfc3339")]
    pub idle_expires_at: SystemTime,
    /// `User-Agent` of the request that created the session.
    pub user_agent: Option<String>,
    /// Client IP of the request that created the session.
    pub ip: Option<IpAddr>,
    /// Whether this is the session of the current request.
    pub current: bool,
}

impl DeviceSession {
    fn new(record: SessionRecord, current: Option<SessionId>) -> Self {
        Self {
            id: record.id,
            created_at: record.created_at,
            last_seen_at: record.last_seen_at,
            expires_at: record.expires_at,
            idle_expires_at: record.idle_expires_at,
            user_agent: record.user_agent,
            ip: record.ip,
            current: Some(record.id) == current,
        }
    }
}

/// RFC 3339 timestamps in JSON, as the rest of an HTTP API writes them.
mod rfc3339 {
    use std::time::SystemTime;

    use serde::Serializer;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let text = OffsetDateTime::from(*t)
            .format(&Rfc3339)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}

impl Session {
    /// The signed-in user's active sessions, newest first, the current one flagged; empty
    /// without a signed-in session.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails.
    pub async fn list_mine(&self) -> Result<Vec<DeviceSession>, SessionError> {
        let Some((user, current)) = self.signed_in().await?.ok() else {
            return Ok(Vec::new());
        };
        let store = &self.inner.shared.store;
        let records = store.list_by_user(&user, SystemTime::now()).await?;
        Ok(records
            .into_iter()
            .map(|record| DeviceSession::new(record, Some(current)))
            .collect())
    }

    /// Ends one of the signed-in user's sessions by its public id, returning whether it did.
    /// An id that is not one of the user's active sessions (someone else's, or unknown) gives
    /// `false` either way, so a caller learns nothing about other users' sessions. Revoking the
    /// current session is a [`logout`](Self::logout).
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails.
    pub async fn revoke(&self, id: &SessionId) -> Result<bool, SessionError> {
        let Some((user, current)) = self.signed_in().await?.ok() else {
            return Ok(false);
        };
        if *id == current {
            self.logout().await?;
            return Ok(true);
        }
        let store = &self.inner.shared.store;
        // A public id belongs to one user for life (login makes a new one), so reading its
        // session first and ending it by id after cannot end someone else's session.
        let now = SystemTime::now();
        let mine = store.load_by_id(id).await?.is_some_and(|(_, record)| {
            record.user.as_deref() == Some(user.as_str()) && record.is_active(now)
        });
        if mine {
            // Before the store call, as a logout does.
            self.deny(*id);
        }
        let ended = Ended::new(now, EndReason::Revoked);
        let revoked = mine && store.end(EndTarget::Id(id), ended).await? > 0;
        if revoked {
            self.audit(AuditKind::Revoked, Some(*id), Some(&user), None);
        }
        Ok(revoked)
    }

    /// Ends every session of the signed-in user but the current one, returning how many.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails.
    pub async fn revoke_others(&self) -> Result<u64, SessionError> {
        let Some((user, current)) = self.signed_in().await?.ok() else {
            return Ok(0);
        };
        let store = &self.inner.shared.store;
        // One store call ends them all at once; to name them in the audit trail and deny
        // their stateless access tokens they are listed just before (only when the audit trail
        // keeps `revoked` events, or in the stateless mode), so a session that starts or ends
        // in between may be missed or named needlessly. Ending them one by one would be exact
        // but not atomic, and revocation must not leave a window.
        let listed = if self.audits(AuditKind::Revoked) || self.denies() {
            store.list_by_user(&user, SystemTime::now()).await?
        } else {
            Vec::new()
        };
        for record in listed.iter().filter(|r| r.id != current) {
            self.deny(record.id);
        }
        let others = EndTarget::User {
            user: &user,
            except: Some(&current),
        };
        let ended = Ended::new(SystemTime::now(), EndReason::Revoked);
        let revoked = store.end(others, ended).await?;
        for record in listed.iter().filter(|r| r.id != current) {
            self.audit(AuditKind::Revoked, Some(record.id), Some(&user), None);
        }
        Ok(revoked)
    }

    /// Ends every session of the signed-in user, the current one included (which is then
    /// logged out: its cookie is cleared), returning how many.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails; sessions ended before the failure stay
    /// ended.
    pub async fn revoke_all(&self) -> Result<u64, SessionError> {
        let others = self.revoke_others().await?;
        if self.signed_in().await?.is_err() {
            return Ok(others);
        }
        self.logout().await?;
        Ok(others + 1)
    }
}
