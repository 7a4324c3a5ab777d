//! Protection against cross-site request forgery (CSRF) for cookie-authenticated apps, in two
//! parts that work together:
//!
//! - [`CrossOriginLayer`] refuses cross-origin unsafe requests from what browsers say about
//!   them (`Sec-Fetch-Site`, `Origin`). It needs nothing in the pages and covers every browser
//!   released since 2023.
//! - [`CsrfTokenLayer`] and the [`CsrfToken`] extractor are the token fallback for browsers
//!   that send neither header: a per-session secret, a masked token in each form (or an
//!   `X-CSRF-Token` header), checked in constant time.
//!
//! Both exempt requests that carry `Authorization: Bearer …`: a browser never adds that header
//! to a forged request, and bearer clients hold no cookie to ride on. Both refuse with
//! 403 `{"error":"csrf"}` and a `csrf_rejected` audit event with the reason.
//!
//! ```
//! use axum::{routing::{get, post}, Router};
//! use sessionward::csrf::{CrossOriginLayer, CsrfToken, CsrfTokenLayer};
//! use sessionward::{store::MemoryStore, SessionLayer};
//!
//! async fn form(token: CsrfToken) -> String {
//!     format!("<form method=post action=/notes>{}<button>Save</button></form>", token.hidden_input())
//! }
//!
//! let app: Router = Router::new()
//!     .route("/notes", get(form).post(|| async { "saved" }))
//!     // Inside the session layer: the check needs the request's session.
//!     .layer(CsrfTokenLayer::new().trust_fetch_metadata())
//!     .layer(SessionLayer::new(MemoryStore::default()))
//!     .layer(CrossOriginLayer::new());
//! ```

mod cross_origin;
mod token;
mod token_layer;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http::header::{AUTHORIZATION, USER_AGENT};
use http::{Extensions, HeaderMap, Method};

use crate::audit::{AuditEvent, AuditKind};

// The admin routes judge their forms by the same rule.
#[cfg(feature = "admin")]
pub(crate) use cross_origin::refusal;
pub use cross_origin::{CrossOriginFuture, CrossOriginLayer, CrossOriginService, InvalidOrigin};
pub use token::{verify_token, CsrfToken, CsrfTokenRejection};
pub use token_layer::{CsrfTokenFuture, CsrfTokenLayer, CsrfTokenService};

/// `GET`, `HEAD` and `OPTIONS` change nothing, so they need no protection.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The request carries `Authorization: Bearer …`, which no forged browser request can.
fn is_bearer(headers: &HeaderMap) -> bool {
    headers.get(AUTHORIZATION).is_some_and(|value| {
        value
            .as_bytes()
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
    })
}

/// The browser says the request comes from the page's own origin (`same-origin`) or from the
/// user (`none`: typed in the address bar, a bookmark).
fn fetch_metadata_vouches(headers: &HeaderMap) -> bool {
    matches!(
        headers.get("sec-fetch-site").map(|value| value.as_bytes()),
        Some(b"same-origin" | b"none")
    )
}

/// The `csrf_rejected` event for a refused request, with the client's socket address and user
/// agent where known.
fn rejection_event(
    reason: &'static str,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> AuditEvent {
    let mut event = AuditEvent::new(AuditKind::CsrfRejected).with_reason(reason);
    if let Some(ConnectInfo(addr)) = extensions.get::<ConnectInfo<SocketAddr>>() {
        event = event.with_ip(addr.ip());
    }
    if let Some(agent) = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()) {
        event = event.with_user_agent(agent);
    }
    event
}
