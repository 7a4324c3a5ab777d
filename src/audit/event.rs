//! One entry of the audit trail: what happened, to which session, for which user, from where.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use crate::token::SessionId;

/// What happened. Serialized (and shown by [`Display`](fmt::Display)) in snake case:
/// `session_created`, `login`, `login_failed`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditKind {
    /// An anonymous session was first stored (a handler put data in it).
    SessionCreated,
    /// A user signed in ([`Session::login`](crate::Session::login)); the session has a new
    /// token.
    Login,
    /// A sign-in was refused: reported by the app through
    /// [`Session::login_failed`](crate::Session::login_failed), or by the layer when a
    /// session limit refused it (reason `session_limit`).
    LoginFailed,
    /// The session's token was replaced ([`Session::rotate`](crate::Session::rotate)).
    Rotated,
    /// The session's idle deadline was moved on by use.
    Renewed,
    /// The session's own client ended it ([`Session::logout`](crate::Session::logout)).
    Logout,
    /// The session was ended by another session of its user
    /// ([`Session::revoke`](crate::Session::revoke) and its kin).
    Revoked,
    /// The session was ended to make room for a new login of its user, beyond
    /// [`SessionLayer::max_sessions_per_user`](crate::SessionLayer::max_sessions_per_user).
    Evicted,
    /// A request presented a session that had passed its idle deadline.
    ExpiredIdle,
    /// A request presented a session that had passed its absolute deadline.
    ExpiredAbsolute,
    /// A request presented a token that is malformed (reason `malformed`: wrong length or
    /// alphabet, two session cookies, two `Authorization` headers) or that no session has
    /// (reason `unknown`: ended, or never issued).
    InvalidToken,
    /// A refresh token was used a second time (a sign that it was stolen).
    RefreshReuse,
    /// A cross-site request was refused.
    CsrfRejected,
    /// A call to the remote revocation routes was refused for its secret (reason
    /// `missing_secret` or `wrong_secret`).
    RemoteDenied,
}

impl AuditKind {
    /// Every kind, in the order declared.
    pub const ALL: [AuditKind; 14] = [
        Self::SessionCreated,
        Self::Login,
        Self::LoginFailed,
        Self::Rotated,
        Self::Renewed,
        Self::Logout,
        Self::Revoked,
        Self::Evicted,
        Self::ExpiredIdle,
        Self::ExpiredAbsolute,
        Self::InvalidToken,
        Self::RefreshReuse,
        Self::CsrfRejected,
        Self::RemoteDenied,
    ];

    /// The snake-case name: `"login_failed"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SessionCreated => "session_created",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::Rotated => "rotated",
            Self::Renewed => "renewed",
            Self::Logout => "logout",
            Self::Revoked => "revoked",
            Self::Evicted => "evicted",
            Self::ExpiredIdle => "expired_idle",
            Self::ExpiredAbsolute => "expired_absolute",
            Self::InvalidToken => "invalid_token",
            Self::RefreshReuse => "refresh_reuse",
            Self::CsrfRejected => "csrf_rejected",
            Self::RemoteDenied => "remote_denied",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit event. It never holds a session token or a token hash: the session is named by
/// its public [`SessionId`], which is no credential.
///
/// `ip` and `user_agent` are those of the request that caused the event (for `evicted` or
/// `revoked`, the request that ended the session, not the ended session's own). Serialized as
/// one JSON object with the time in RFC 3339 and absent fields as `null`:
///
/// ```json
/// {"event":"login","time":"2026-12-05T21:10:18.527119043Z","session_id":"Yx3…","user":"alice",
///  "ip":"192.0.2.7","user_agent":"curl/8.5.0","reason":null}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AuditEvent {
    /// What happened.
    pub event: AuditKind,
    /// When.
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    /// The public id of the session concerned, when there is one.
    pub session_id: Option<SessionId>,
    /// The user concerned: the signed-in user, or the name a failed login tried.
    pub user: Option<String>,
    /// The client IP of the request, as the layer determines it (see
    /// [`SessionLayer::trusted_proxies`](crate::SessionLayer::trusted_proxies)).
    pub ip: Option<IpAddr>,
    /// The request's `User-Agent`, at most 256 characters.
    pub user_agent: Option<String>,
    /// Why, where a reason applies: `unknown` or `malformed` for an invalid token,
    /// `session_limit` for an eviction or a refused login, the app's reason for a failed
    /// login.
    pub reason: Option<Cow<'static, str>>,
}

impl AuditEvent {
    /// An event of `kind` happening now, with nothing else known yet; for events an app
    /// reports itself through [`AuditHandle::record`](super::AuditHandle::record).
    pub fn new(kind: AuditKind) -> Self {
        Self {
            event: kind,
            time: SystemTime::now(),
            session_id: None,
            user: None,
            ip: None,
            user_agent: None,
            reason: None,
        }
    }

    /// Names the session concerned.
    pub fn with_session_id(mut self, id: SessionId) -> Self {
        self.session_id = Some(id);
        self
    }

    /// Names the user concerned.
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the client IP.
    pub fn with_ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// Sets the user agent (cut to 256 characters).
    pub fn with_user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = Some(user_agent.chars().take(256).collect());
        self
    }

    /// Sets the reason.
    pub fn with_reason(mut self, reason: impl Into<Cow<'static, str>>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// RFC 3339, as the rest of an HTTP API writes times.
fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    use time::format_description::well_known::Rfc3339;
    let text = time::OffsetDateTime::from(*t)
        .format(&Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}
