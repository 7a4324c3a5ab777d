//! The background task that purges expired sessions.

use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;

use super::SessionStore;

/// Starts a task on the current Tokio runtime that calls
/// [`delete_expired`](SessionStore::delete_expired) every `period`, for as long as the
/// returned handle is not aborted. A failing store is logged and tried again next period.
///
/// On a store with a [`retention`](SessionStore::retention) period, that purges the sessions
/// that ended or expired longer than the retention period ago, and keeps the others listable.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use sessionward::store::{spawn_cleanup, MemoryStore};
///
/// let store = MemoryStore::default();
/// let cleanup = spawn_cleanup(store.clone(), Duration::from_secs(60));
/// // … serve the app with `SessionLayer::new(store)` …
/// cleanup.abort();
/// # }
/// ```
///
/// # Panics
/// Outside a Tokio runtime, or if `period` is zero.
pub fn spawn_cleanup<S: SessionStore>(store: S, period: Duration) -> JoinHandle<()> {
    assert!(!period.is_zero(), "cleanup period must not be zero");
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match store.delete_expired(SystemTime::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "purged expired sessions"),
                Err(err) => tracing::warn!(error = %err, "purging expired sessions failed"),
            }
        }
    })
}
