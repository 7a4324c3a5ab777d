//! The demo's admin API at `/admin`, for the user `admin` (the demo's only user with role
//! admin), and with `SESSIONWARD_REMOTE_SECRET` set, the routes for other servers at
//! `/remote`. The dashboard's live feed is the audit trail: logins, logouts, revocations, the
//! sessions the admin and remote routes end, and refused remote calls.

use std::future::Future;

use axum::Router;
use sessionward::admin::{AdminRouter, RemoteRouter, ShortSecret};
use sessionward::store::{SessionRecord, SessionStore};

use super::audit::Trail;
use super::timeouts;

/// Whether a session may use the admin routes: its user has role admin, as the demo's timeout
/// policy defines roles.
fn is_admin(record: &SessionRecord) -> bool {
    record
        .user
        .as_deref()
        .is_some_and(|user| timeouts::login_of(user, false).has_role("admin"))
}

/// `app` with the admin routes over `store` and, given a secret, the remote routes, both
/// reporting to `trail`, whose live feed the dashboard shows. The admin's event streams end
/// when `shutdown` completes, so that open dashboards do not hold up a graceful shutdown.
///
/// # Errors
/// [`ShortSecret`] for a remote secret under 16 bytes.
pub fn with_admin<S: SessionStore + Clone>(
    app: Router,
    store: S,
    remote_secret: Option<&str>,
    trail: &Trail,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Router, ShortSecret> {
    let admin = AdminRouter::new(store.clone())
        .authorize(is_admin)
        .events(trail.live.sender())
        .audit(trail.handle.clone())
        .shutdown_on(shutdown)
        .into_router();
    let mut app = app.nest("/admin", admin);
    // Without a secret the remote routes do not exist: 404 like any unknown path.
    if let Some(secret) = remote_secret {
        let remote = RemoteRouter::new(store, secret)?.audit(trail.handle.clone());
        app = app.nest("/remote", remote.into_router());
    }
    Ok(app)
}
