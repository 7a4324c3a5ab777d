//! The extractor for routes that require a signed-in user.

use axum_core::extract::FromRequestParts;
use http::request::Parts;

use crate::error::AuthRejection;
use crate::token::SessionId;
use crate::Session;

/// A request with a valid, signed-in session. Extracting it loads the session (one store
/// read, shared with any later use of the [`Session`] in the same request); a
/// [stateless](crate::token::AccessTokens::stateless) JWT access token is checked without
/// reading the store, its claims giving the user and the session id.
///
/// Without one the handler is not called and the client gets 401 with
/// `{"error":"unauthenticated"}`, or `{"error":"session_expired"}` when the presented session
/// had passed its idle or absolute deadline, and the same `WWW-Authenticate` challenge rules
/// in both cases (see [`AuthRejection`]).
///
/// ```
/// use sessionward::Authenticated;
///
/// async fn me(user: Authenticated) -> String {
///     format!("signed in as {}", user.user())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Authenticated {
    user: String,
    id: SessionId,
    session: Session,
}

impl Authenticated {
    /// The signed-in user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The public id of the session.
    pub fn session_id(&self) -> SessionId {
        self.id
    }

    /// The session itself, to read data or log out.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(AuthRejection::MissingLayer)?;
        let presented = session.presented();
        let bearer_accepted = session.shared().config.bearer;
        match session.identified().await? {
            Ok((user, id)) => Ok(Self { user, id, session }),
            Err(true) => Err(AuthRejection::SessionExpired {
                presented,
                bearer_accepted,
            }),
            Err(false) => Err(AuthRejection::Unauthenticated {
                presented,
                bearer_accepted,
            }),
        }
    }
}
