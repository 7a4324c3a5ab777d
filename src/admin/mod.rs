//! An admin API to mount in an axum app: list and export sessions, end them, count them, and
//! watch a live dashboard; and routes for other servers to end sessions with a shared secret.
//!
//! [`AdminRouter`] builds an [`axum::Router`] to nest under a path of the app (say `/admin`),
//! inside the app's [`SessionLayer`](crate::SessionLayer). Every route needs a signed-in
//! session that the app's authorization predicate accepts: without a session the answer is
//! 401 (as [`Authenticated`](crate::Authenticated) gives it), with one the predicate refuses
//! 403 `{"error": "forbidden"}`.
//!
//! | route (under the mount path) | answer |
//! |---|---|
//! | `GET /` | the dashboard: an HTML page, no external assets, live from `GET /events` |
//! | `GET /events` | server-sent events: the app's events (see [`AdminRouter::events`]) and `stats` |
//! | `GET /sessions?state=active\|expired\|all&user=U&format=json\|csv&offset=N&limit=N` | a page of sessions |
//! | `GET /stats` | `{"active": n, "users": m}`: active signed-in sessions and distinct users |
//! | `POST /sessions/{id}/revoke` | ends one session: 204, or 404 |
//! | `POST /users/{user}/revoke` | ends every session of a user: 204 |
//! | `POST /users/{user}/keep` `{"session_id"?}` | keeps one session of a user (default: the newest) and ends the others: `{"kept": id, "revoked": n}`, or 404 |
//!
//! The `POST` routes need `Content-Type: application/json` (415 otherwise) and refuse a
//! browser's cross-origin request by the rule of [`CrossOriginLayer`](crate::csrf::CrossOriginLayer)
//! (403 `{"error": "cross_origin"}`): an HTML form on another site cannot send either, so a
//! signed-in admin's browser cannot be made to end sessions. Listings and exports hold a
//! session's public id, user, times, user agent and IP: never its token, token hash or data.
//! Every answer has `Cache-Control: no-store`; every error is JSON `{"error": code}`.
//!
//! [`RemoteRouter`] serves `POST /users/{user}/revoke` and `POST /users/{user}/keep` to other
//! servers, authorized by a shared secret in the `X-Sessionward-Secret` header instead of a
//! session.
//!
//! ```
//! use axum::Router;
//! use sessionward::admin::{AdminRouter, RemoteRouter};
//! use sessionward::audit::{AuditHandle, AuditSink as _, BroadcastAudit, TracingAudit};
//! use sessionward::store::MemoryStore;
//! use sessionward::SessionLayer;
//!
//! let store = MemoryStore::default();
//! // One audit trail for the layer and these routes; its live copy feeds the dashboard.
//! let live = BroadcastAudit::new(256);
//! let trail = AuditHandle::new(TracingAudit::default().and(live.clone()));
//! let admin = AdminRouter::new(store.clone())
//!     // Who may use it: here the user named "admin"; an app would read its own roles.
//!     .authorize(|record| record.user.as_deref() == Some("admin"))
//!     .events(live.sender())
//!     .audit(trail.clone())
//!     .into_router();
//! let remote = RemoteRouter::new(store.clone(), "a secret of at least 16 bytes")
//!     .expect("a long enough secret")
//!     .audit(trail.clone())
//!     .into_router();
//! let app: Router = Router::new()
//!     .nest("/admin", admin)
//!     .nest("/remote", remote)
//!     .layer(SessionLayer::new(store).audit_through(trail));
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::middleware;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use futures_util::FutureExt;
use http::StatusCode;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::audit::AuditHandle;
use crate::error::json_error;
use crate::store::{BoxedStore, SessionRecord, SessionStore};

mod access;
mod actions;
mod dashboard;
mod error;
mod export;
mod listing;
mod live;
mod remote;
mod stats;

use actions::Sessions;
pub use actions::{Actor, AdminAction, Denial};
pub use error::AdminError;
pub use remote::{RemoteRouter, ShortSecret, SECRET_HEADER};

/// Decides whether a signed-in session may use the admin routes.
type Authorize = dyn Fn(&SessionRecord) -> bool + Send + Sync;

/// What the admin routes share.
pub(crate) struct Admin {
    pub(crate) sessions: Sessions,
    authorize: Box<Authorize>,
    feed: Option<live::Feed>,
    stats_every: Duration,
    shutdown: Option<live::Shutdown>,
}

/// Builds the admin API's [`Router`]; see the [module docs](self) for its routes.
///
/// Until [`authorize`](Self::authorize) is called, every signed-in caller is refused (403).
#[must_use = "call into_router and nest the router in the app"]
pub struct AdminRouter {
    admin: Admin,
}

impl AdminRouter {
    /// The admin API over `store`: the store the app's session layer uses (a clone of it).
    pub fn new<S: SessionStore>(store: S) -> Self {
        Self {
            admin: Admin {
                sessions: Sessions::new(BoxedStore::new(store)),
                authorize: Box::new(|_| false),
                feed: None,
                stats_every: Duration::from_secs(15),
                shutdown: None,
            },
        }
    }

    /// Who may use the admin routes: `allow` gets the caller's signed-in session record (its
    /// user and data) and says yes or no.
    pub fn authorize(
        mut self,
        allow: impl Fn(&SessionRecord) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.admin.authorize = Box::new(allow);
        self
    }

    /// Streams every value sent on `events` to `GET /events` (the dashboard's live feed), as a
    /// server-sent event whose `data` is the value in JSON, followed by a fresh `stats` event.
    pub fn events<E>(mut self, events: &broadcast::Sender<E>) -> Self
    where
        E: Serialize + Clone + Send + 'static,
    {
        self.admin.feed = Some(live::Feed::new(events.clone()));
        self
    }

    /// How often `GET /events` sends a `stats` event when nothing else happens (15 s unless
    /// set; at least one second).
    pub fn stats_every(mut self, every: Duration) -> Self {
        self.admin.stats_every = every.max(Duration::from_secs(1));
        self
    }

    /// Ends every `GET /events` stream once `signal` completes. An event stream never ends on
    /// its own, so without this an open dashboard holds up a graceful shutdown (as axum's
    /// `with_graceful_shutdown`) that waits for every response to finish: pass the same signal.
    pub fn shutdown_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.admin.shutdown = Some(signal.boxed().shared());
        self
    }

    /// Records each session the admin routes end (`revoked`, reason `admin`) in the audit
    /// trail of `handle`, instead of the process's `tracing` trail
    /// ([`AuditHandle::tracing`], the default). Pass the layer's handle
    /// ([`SessionLayer::config`](crate::SessionLayer::config)`().audit()`) to keep one trail.
    pub fn audit(mut self, handle: AuditHandle) -> Self {
        self.admin.sessions.audit(handle);
        self
    }

    /// Calls `hook` after each session the admin routes end, with what was done and by whom.
    pub fn on_action(mut self, hook: impl Fn(&AdminAction) + Send + Sync + 'static) -> Self {
        self.admin.sessions.on_action(hook);
        self
    }

    /// The router, to nest under the app's admin path inside its session layer.
    pub fn into_router(self) -> Router {
        let admin = Arc::new(self.admin);
        Router::new()
            .route("/", get(dashboard::page))
            .route("/events", get(live::events))
            .route("/sessions", get(listing::list))
            .route("/stats", get(stats::stats))
            .route(
                "/sessions/{id}/revoke",
                unsafe_post(actions::revoke_session),
            )
            .route("/users/{user}/revoke", unsafe_post(actions::revoke_user))
            .route("/users/{user}/keep", unsafe_post(actions::keep))
            .method_not_allowed_fallback(|| async {
                json_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            })
            .route_layer(middleware::from_fn_with_state(
                Arc::clone(&admin),
                access::admins_only,
            ))
            .layer(DefaultBodyLimit::max(actions::MAX_BODY))
            .with_state(admin)
    }
}

/// A `POST` route that changes something: behind the cross-site checks (after the admin
/// check, which every route has).
fn unsafe_post<H, T>(handler: H) -> MethodRouter<Arc<Admin>>
where
    H: Handler<T, Arc<Admin>>,
    T: 'static,
{
    post(handler).route_layer(middleware::from_fn(access::unforged))
}

impl std::fmt::Debug for AdminRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminRouter")
            .field("events", &self.admin.feed.is_some())
            .field("stats_every", &self.admin.stats_every)
            .finish_non_exhaustive()
    }
}
