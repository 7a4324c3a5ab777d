//! The demo's admin API at `/admin`, for the user `admin` (the demo's only user with role
//! admin), and with `SESSIONWARD_REMOTE_SECRET` set, the routes for other servers at
//! `/remote`. The dashboard's live feed carries the demo's logins, logouts and the sessions the
//! admin and remote routes end.

use std::future::Future;
use std::time::SystemTime;

use axum::extract::Request;
use axum::{Extension, Router};
use serde_json::{json, Value};
use sessionward::admin::{AdminAction, AdminRouter, RemoteRouter, ShortSecret};
use sessionward::store::{SessionRecord, SessionStore};
use tokio::sync::broadcast;

use super::{rfc3339, timeouts};

/// The live feed's channel: the demo sends a small JSON object for each event.
#[derive(Clone)]
pub struct Feed(broadcast::Sender<Value>);

impl Feed {
    fn new() -> Self {
        // Enough for a burst; a dashboard further behind is told to count again.
        Self(broadcast::channel(256).0)
    }

    /// The feed the app was given, if any (the tests serve the routes without one).
    pub fn of(request: &Request) -> Option<Self> {
        request.extensions().get::<Self>().cloned()
    }

    /// Sends `event` (`"login"`, `"logout"`) of `user` to every dashboard watching.
    pub fn announce(&self, event: &str, user: &str) {
        self.send(json!({ "event": event, "user": user, "at": rfc3339(SystemTime::now()) }));
    }

    fn send(&self, value: Value) {
        // An error only says that no dashboard is watching.
        let _ = self.0.send(value);
    }
}

/// Whether a session may use the admin routes: its user has role admin, as the demo's timeout
/// policy defines roles.
fn is_admin(record: &SessionRecord) -> bool {
    record
        .user
        .as_deref()
        .is_some_and(|user| timeouts::login_of(user, false).has_role("admin"))
}

/// `app` with the admin routes over `store` and, given a secret, the remote routes; and the
/// live feed, for the login and logout routes to announce on. The admin's event streams end
/// when `shutdown` completes, so that open dashboards do not hold up a graceful shutdown.
///
/// # Errors
/// [`ShortSecret`] for a remote secret under 16 bytes.
pub fn with_admin<S: SessionStore + Clone>(
    app: Router,
    store: S,
    remote_secret: Option<&str>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Router, ShortSecret> {
    let feed = Feed::new();
    let report = {
        let feed = feed.clone();
        move |action: &AdminAction| {
            // TODO(audit): at merge, record `action` in the audit trail (src/audit) here, and
            // feed the dashboard from the audit broadcast sink instead of this channel.
            if let AdminAction::RemoteDenied {
                reason, client_ip, ..
            } = action
            {
                tracing::warn!(?reason, ?client_ip, "remote call refused");
            }
            let mut event = serde_json::to_value(action).unwrap_or(Value::Null);
            event["at"] = Value::String(rfc3339(SystemTime::now()));
            feed.send(event);
        }
    };
    let admin = AdminRouter::new(store.clone())
        .authorize(is_admin)
        .events(&feed.0)
        .on_action(report.clone())
        .shutdown_on(shutdown)
        .into_router();
    let mut app = app.nest("/admin", admin);
    // Without a secret the remote routes do not exist: 404 like any unknown path.
    if let Some(secret) = remote_secret {
        let remote = RemoteRouter::new(store, secret)?.on_action(report);
        app = app.nest("/remote", remote.into_router());
    }
    Ok(app.layer(Extension(feed)))
}
