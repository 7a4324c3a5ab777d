//! Ending sessions: one by id, all of a user's, or all of a user's but one; shared by the admin
//! routes and the remote routes, and reported to the app's hook as [`AdminAction`]s.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::access::Caller;
use super::error::AdminError;
use super::Admin;
use crate::audit::{AuditEvent, AuditHandle, AuditKind, AuditTarget, EventParts};
use crate::store::{BoxedStore, EndReason, EndTarget, Ended, SessionRecord, SessionStore};
use crate::token::SessionId;

/// Something the admin or remote routes did or refused, for the app's
/// [`on_action`](super::AdminRouter::on_action) hook (an audit trail, a live feed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AdminAction {
    /// One session was ended by its id.
    SessionRevoked {
        /// The session's public id.
        session_id: SessionId,
        /// Whose request it was.
        by: Actor,
    },
    /// Every session of a user was ended.
    UserRevoked {
        /// The user.
        user: String,
        /// How many sessions ended.
        revoked: u64,
        /// Whose request it was.
        by: Actor,
    },
    /// Every session of a user but one was ended.
    OthersRevoked {
        /// The user.
        user: String,
        /// The session kept.
        kept: SessionId,
        /// How many sessions ended.
        revoked: u64,
        /// Whose request it was.
        by: Actor,
    },
    /// A remote call was refused for its secret (403).
    RemoteDenied {
        /// What was wrong with the secret.
        reason: Denial,
        /// The caller's IP, as the session layer sees it (or the peer address), if known.
        client_ip: Option<IpAddr>,
        /// The path it asked for.
        path: String,
    },
}

/// Who asked for an [`AdminAction`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Actor {
    /// A signed-in admin, through the admin routes.
    Admin {
        /// The admin's user name.
        user: String,
    },
    /// Another server, through the remote routes.
    Remote,
}

/// Why a remote call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Denial {
    /// No `X-Sessionward-Secret` header.
    MissingSecret,
    /// A secret that is not the configured one.
    WrongSecret,
}

/// Told of every session the admin or remote routes end, and of every refused remote call.
type OnAction = Box<dyn Fn(&AdminAction) + Send + Sync>;

/// The store, the app's hook and the audit trail: what ending sessions needs, on the admin
/// and the remote routes alike.
pub(crate) struct Sessions {
    pub(crate) store: BoxedStore,
    on_action: Option<OnAction>,
    audit: AuditTarget,
}

impl Sessions {
    pub(crate) fn new(store: BoxedStore) -> Self {
        Self {
            store,
            on_action: None,
            audit: AuditTarget::Tracing,
        }
    }

    pub(crate) fn on_action(&mut self, hook: impl Fn(&AdminAction) + Send + Sync + 'static) {
        self.on_action = Some(Box::new(hook));
    }

    pub(crate) fn audit(&mut self, handle: AuditHandle) {
        self.audit = AuditTarget::Handle(handle);
    }

    /// Records the event `event` builds, of `kind`, if the audit trail keeps such events.
    pub(crate) fn record(&self, kind: AuditKind, event: impl FnOnce() -> AuditEvent) {
        if let Some(audit) = self.audit.for_kind(kind) {
            audit.record_parts(EventParts::from(&event()));
        }
    }

    /// Ends one session by id (marked revoked, for a store that retains ended sessions) and
    /// audits it as `revoked` with the actor's kind as reason; whether it was there to end.
    async fn end_one(
        &self,
        id: &SessionId,
        user: Option<&str>,
        by: &Actor,
    ) -> Result<bool, AdminError> {
        let ended = Ended::new(SystemTime::now(), EndReason::Revoked);
        let done = self.store.end(EndTarget::Id(id), ended).await? > 0;
        if done {
            self.record(AuditKind::Revoked, || revoked(*id, user, by));
        }
        Ok(done)
    }

    /// Ends every session of `user` but `except`; each is audited as `revoked` (listed first,
    /// only with an audit trail: the end itself is one atomic store call).
    /// `listed`: the user's sessions, when the caller has just read them (no second read).
    async fn end_all(
        &self,
        user: &str,
        except: Option<&SessionId>,
        by: &Actor,
        listed: Option<Vec<SessionRecord>>,
    ) -> Result<u64, AdminError> {
        let audited = self.audit.for_kind(AuditKind::Revoked).is_some();
        let listed = match (audited, listed) {
            (false, _) => Vec::new(),
            (true, Some(listed)) => listed,
            (true, None) => self.store.list_by_user(user, SystemTime::now()).await?,
        };
        let ended = Ended::new(SystemTime::now(), EndReason::Revoked);
        let n = self
            .store
            .end(EndTarget::User { user, except }, ended)
            .await?;
        for record in listed.iter().filter(|r| Some(&r.id) != except) {
            self.record(AuditKind::Revoked, || revoked(record.id, Some(user), by));
        }
        Ok(n)
    }

    /// Tells the app's hook, if any, of `action`.
    pub(crate) fn report(&self, action: &AdminAction) {
        if let Some(hook) = &self.on_action {
            hook(action);
        }
    }
}

/// The audit event of a session the admin or remote routes ended: `revoked`, reason `admin`
/// or `remote`.
fn revoked(id: SessionId, user: Option<&str>, by: &Actor) -> AuditEvent {
    let event = AuditEvent::new(AuditKind::Revoked)
        .with_session_id(id)
        .with_reason(match by {
            Actor::Admin { .. } => "admin",
            Actor::Remote => "remote",
        });
    match user {
        Some(user) => event.with_user(user),
        None => event,
    }
}

/// The optional body of the user routes: `{"session_id": "…"}`, or nothing.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Target {
    session_id: Option<String>,
}

/// The most a body of these routes may hold: `{"session_id": "…"}` needs far less.
pub(crate) const MAX_BODY: usize = 4096;

/// The body's target, reading an empty body as `{}`.
pub(crate) fn target(body: Result<Bytes, BytesRejection>) -> Result<Option<String>, AdminError> {
    let body = body.map_err(|err| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AdminError::TooLarge
        } else {
            AdminError::InvalidBody
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<Target>(&body)
        .map(|t| t.session_id)
        .map_err(|_| AdminError::InvalidBody)
}

/// A path segment, or 404 when it cannot be read (bad percent-encoding).
fn segment(path: Result<Path<String>, PathRejection>) -> Result<String, AdminError> {
    path.map(|Path(s)| s).map_err(|_| AdminError::NotFound)
}

/// `POST /sessions/{id}/revoke`: 204, or 404 for an id no session has.
pub(crate) async fn revoke_session(
    State(admin): State<Arc<Admin>>,
    Extension(Caller(by)): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let id = SessionId::parse(&segment(id)?).ok_or(AdminError::NotFound)?;
    let by = Actor::Admin { user: by };
    if !admin.sessions.end_one(&id, None, &by).await? {
        return Err(AdminError::NotFound);
    }
    admin
        .sessions
        .report(&AdminAction::SessionRevoked { session_id: id, by });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /users/{user}/revoke`: 204, however many sessions the user had.
pub(crate) async fn revoke_user(
    State(admin): State<Arc<Admin>>,
    Extension(Caller(by)): Extension<Caller>,
    user: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let user = segment(user)?;
    let by = Actor::Admin { user: by };
    let revoked = admin.sessions.end_all(&user, None, &by, None).await?;
    admin
        .sessions
        .report(&AdminAction::UserRevoked { user, revoked, by });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /users/{user}/keep` `{"session_id"?}`: 200 `{"kept": id, "revoked": n}`.
pub(crate) async fn keep(
    State(admin): State<Arc<Admin>>,
    Extension(Caller(by)): Extension<Caller>,
    user: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let user = segment(user)?;
    let target = target(body)?;
    keep_one(&admin.sessions, user, target, Actor::Admin { user: by }).await
}

/// Keeps `target` (default: the newest) of `user`'s active sessions and ends the others; 404
/// when `target` is not one of them, or the user has none.
pub(crate) async fn keep_one(
    sessions: &Sessions,
    user: String,
    target: Option<String>,
    by: Actor,
) -> Result<Response, AdminError> {
    let active = sessions
        .store
        .list_by_user(&user, SystemTime::now())
        .await?;
    let kept = match target {
        None => active.first(),
        Some(id) => {
            let id = SessionId::parse(&id).ok_or(AdminError::NotFound)?;
            active.iter().find(|s| s.id == id)
        }
    }
    .ok_or(AdminError::NotFound)?
    .id;
    let revoked = sessions
        .end_all(&user, Some(&kept), &by, Some(active))
        .await?;
    sessions.report(&AdminAction::OthersRevoked {
        user,
        kept,
        revoked,
        by,
    });
    Ok(Json(json!({ "kept": kept, "revoked": revoked })).into_response())
}

/// Ends `target` if it is one of `user`'s active sessions, or else (no target) all of the
/// user's sessions; returns how many ended.
pub(crate) async fn revoke_for_user(
    sessions: &Sessions,
    user: String,
    target: Option<String>,
    by: Actor,
) -> Result<u64, AdminError> {
    let Some(id) = target else {
        let revoked = sessions.end_all(&user, None, &by, None).await?;
        sessions.report(&AdminAction::UserRevoked { user, revoked, by });
        return Ok(revoked);
    };
    // Another user's session id ends nothing: the path names whose sessions are meant.
    let Some(id) = SessionId::parse(&id) else {
        return Ok(0);
    };
    // One read of that session, not a listing of the user's.
    let now = SystemTime::now();
    let theirs = sessions
        .store
        .load_by_id(&id)
        .await?
        .is_some_and(|(_, s)| s.user.as_deref() == Some(user.as_str()) && s.is_active(now));
    if !theirs || !sessions.end_one(&id, Some(&user), &by).await? {
        return Ok(0);
    }
    sessions.report(&AdminAction::SessionRevoked { session_id: id, by });
    Ok(1)
}
