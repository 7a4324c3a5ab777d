//! Routes for other servers: end sessions of a user from another host, authorized by a shared
//! secret instead of a session.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::DefaultBodyLimit;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::actions::{self, Actor, AdminAction, Denial, Sessions};
use super::error::AdminError;
use crate::audit::{AuditEvent, AuditHandle, AuditKind};
use crate::error::json_error;
use crate::store::{BoxedStore, SessionStore};
use crate::Session;

/// The header that carries the shared secret.
pub const SECRET_HEADER: &str = "x-sessionward-secret";

/// Builds the remote routes, to nest under a path of the app (say `/remote`):
///
/// | route | answer |
/// |---|---|
/// | `POST /users/{user}/revoke` `{"session_id"?}` | ends that session of the user (if it is one of theirs), or all of the user's: 200 `{"revoked": n}` |
/// | `POST /users/{user}/keep` `{"session_id"?}` | keeps that session (default: the newest) and ends the user's others: 200 `{"kept": id, "revoked": n}`; 404 when the id is not one of the user's active sessions |
///
/// Each request must carry the secret in `X-Sessionward-Secret`; a missing or wrong one is 403
/// `{"error": "forbidden"}` and is reported to the [`on_action`](Self::on_action) hook as
/// [`AdminAction::RemoteDenied`]. The secret is compared in constant time (SHA-256 digests of
/// both, compared with `subtle`), so timing reveals neither its bytes nor its length. An app
/// with no secret configured should not mount these routes at all.
#[must_use = "call into_router and nest the router in the app"]
pub struct RemoteRouter {
    sessions: Sessions,
    digest: [u8; 32],
}

/// A secret too short to resist guessing: [`RemoteRouter::new`] wants at least
/// [`MIN_LEN`](Self::MIN_LEN) bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortSecret;

impl ShortSecret {
    /// The shortest secret accepted, in bytes.
    pub const MIN_LEN: usize = 16;
}

impl std::fmt::Display for ShortSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the remote secret needs at least {} bytes",
            Self::MIN_LEN
        )
    }
}

impl std::error::Error for ShortSecret {}

impl RemoteRouter {
    /// The remote routes over `store` (the store the app's sessions are in), for callers that
    /// present `secret`.
    ///
    /// # Errors
    /// [`ShortSecret`] for a secret under 16 bytes.
    pub fn new<S: SessionStore>(store: S, secret: impl AsRef<[u8]>) -> Result<Self, ShortSecret> {
        let secret = secret.as_ref();
        if secret.len() < ShortSecret::MIN_LEN {
            return Err(ShortSecret);
        }
        Ok(Self {
            sessions: Sessions::new(BoxedStore::new(store)),
            digest: Sha256::digest(secret).into(),
        })
    }

    /// Records each session these routes end (`revoked`, reason `remote`) and each refused
    /// call (`remote_denied`, reason `missing_secret` or `wrong_secret`) in the audit trail of
    /// `handle`, instead of the process's `tracing` trail
    /// ([`AuditHandle::tracing`], the default).
    pub fn audit(mut self, handle: AuditHandle) -> Self {
        self.sessions.audit(handle);
        self
    }

    /// Calls `hook` after each session these routes end, and on each refused call.
    pub fn on_action(mut self, hook: impl Fn(&AdminAction) + Send + Sync + 'static) -> Self {
        self.sessions.on_action(hook);
        self
    }

    /// The router, to nest under the app's path for these routes.
    pub fn into_router(self) -> Router {
        let remote = Arc::new(Remote {
            sessions: self.sessions,
            digest: self.digest,
        });
        Router::new()
            .route("/users/{user}/revoke", post(revoke))
            .route("/users/{user}/keep", post(keep))
            .method_not_allowed_fallback(|| async {
                json_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            })
            .route_layer(middleware::from_fn_with_state(
                Arc::clone(&remote),
                secret_holders_only,
            ))
            .layer(DefaultBodyLimit::max(actions::MAX_BODY))
            .with_state(remote)
    }
}

impl std::fmt::Debug for RemoteRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the digest: it would let a reader test guesses offline.
        f.debug_struct("RemoteRouter").finish_non_exhaustive()
    }
}

struct Remote {
    sessions: Sessions,
    digest: [u8; 32],
}

/// 403 unless the request carries the secret; a refusal is reported to the hook.
async fn secret_holders_only(
    State(remote): State<Arc<Remote>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request.headers().get(SECRET_HEADER).map(|v| v.as_bytes());
    let Err(reason) = check(&remote.digest, presented) else {
        return next.run(request).await;
    };
    // The session layer's view of the client (it knows the trusted proxies), else the peer.
    let client_ip = request
        .extensions()
        .get::<Session>()
        .and_then(Session::client_ip)
        .or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip())
        });
    // The path as the client sent it, not as left after the app's `nest` took its prefix.
    let path = match request.extensions().get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri.path().to_owned(),
        None => request.uri().path().to_owned(),
    };
    remote.sessions.record(AuditKind::RemoteDenied, || {
        let mut event = AuditEvent::new(AuditKind::RemoteDenied).with_reason(match reason {
            Denial::MissingSecret => "missing_secret",
            Denial::WrongSecret => "wrong_secret",
        });
        if let Some(ip) = client_ip {
            event = event.with_ip(ip);
        }
        match request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            Some(agent) => event.with_user_agent(agent),
            None => event,
        }
    });
    remote.sessions.report(&AdminAction::RemoteDenied {
        reason,
        client_ip,
        path,
    });
    AdminError::Forbidden.into_response()
}

/// Whether `presented` is the secret whose SHA-256 is `digest`. Digests are compared, not the
/// secrets, and with `subtle`'s constant-time equality: the time taken depends neither on how
/// many leading bytes match nor on the presented secret's length.
fn check(digest: &[u8; 32], presented: Option<&[u8]>) -> Result<(), Denial> {
    let presented = presented.ok_or(Denial::MissingSecret)?;
    let presented: [u8; 32] = Sha256::digest(presented).into();
    if bool::from(presented.ct_eq(digest)) {
        Ok(())
    } else {
        Err(Denial::WrongSecret)
    }
}

async fn revoke(
    State(remote): State<Arc<Remote>>,
    user: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let Path(user) = user.map_err(|_| AdminError::NotFound)?;
    let target = actions::target(body)?;
    let revoked = actions::revoke_for_user(&remote.sessions, user, target, Actor::Remote).await?;
    Ok(Json(json!({ "revoked": revoked })).into_response())
}

async fn keep(
    State(remote): State<Arc<Remote>>,
    user: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let Path(user) = user.map_err(|_| AdminError::NotFound)?;
    let target = actions::target(body)?;
    actions::keep_one(&remote.sessions, user, target, Actor::Remote).await
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::{check, Denial};

    #[test]
    fn only_the_very_secret_passes() {
        let secret = b"sixteen-byte-key";
        let digest: [u8; 32] = Sha256::digest(secret).into();
        assert_eq!(check(&digest, Some(secret)), Ok(()));
        assert_eq!(check(&digest, None), Err(Denial::MissingSecret));
        for wrong in [
            &b""[..],
            b"sixteen-byte-ke",
            b"sixteen-byte-keyy",
            b"sixteen-byte-kez",
            b"Sixteen-byte-key",
        ] {
            assert_eq!(check(&digest, Some(wrong)), Err(Denial::WrongSecret));
        }
    }
}
