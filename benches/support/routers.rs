//! The three routes of the benches (`/r`, `/rw`, `/new`) over sessionward and over
//! tower-sessions (0.14 on any store, 0.15 on its memory store).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

/// sessionward over `store`, with the layer's defaults.
pub fn sessionward<S: sessionward::store::SessionStore>(store: S) -> Router {
    sessionward_with(sessionward::SessionLayer::new(store))
}

/// sessionward through `layer` (a layer configured beyond its defaults).
pub fn sessionward_with<S: sessionward::store::SessionStore>(
    layer: sessionward::SessionLayer<S>,
) -> Router {
    use sessionward::{Session, SessionError};

    async fn read(session: Session) -> Result<String, SessionError> {
        Ok(session.get::<u64>("n").await?.unwrap_or(0).to_string())
    }
    async fn read_write(session: Session) -> Result<String, SessionError> {
        let n = session.get::<u64>("n").await?.unwrap_or(0) + 1;
        session.insert("n", &n).await?;
        Ok(n.to_string())
    }
    async fn new(session: Session) -> Result<&'static str, SessionError> {
        session.insert("n", &0u64).await?;
        Ok("created")
    }
    Router::new()
        .route("/r", get(read))
        .route("/rw", get(read_write))
        .route("/new", get(new))
        .layer(layer)
        // As `axum::serve` does: turn handlers into routes once, not on every request.
        .with_state(())
}

/// sessionward over its in-memory store, auditing to `tracing`, with a per-user cap.
pub fn sessionward_audit_cap() -> Router {
    use sessionward::audit::TracingAudit;
    use sessionward::store::{MemoryStore, Overflow};
    sessionward_with(
        sessionward::SessionLayer::new(MemoryStore::default())
            .audit(TracingAudit::default())
            .max_sessions_per_user(5, Overflow::EvictLeastRecentlyUsed),
    )
}

/// As [`sessionward_audit_cap`], with a sink that keeps every event: JSON lines, written to
/// `io::sink()` on the audit thread. What the trail costs a request when nothing filters it
/// out (`/new` queues its `session_created`).
pub fn sessionward_audit_all() -> Router {
    use sessionward::audit::JsonLinesAudit;
    use sessionward::store::{MemoryStore, Overflow};
    sessionward_with(
        sessionward::SessionLayer::new(MemoryStore::default())
            .audit(JsonLinesAudit::new(std::io::sink()))
            .max_sessions_per_user(5, Overflow::EvictLeastRecentlyUsed),
    )
}

/// Bare axum, the baseline: the same routes without a session (an `AtomicU64` instead).
pub fn bare() -> Router {
    async fn read(State(n): State<Arc<AtomicU64>>) -> String {
        n.load(Ordering::Relaxed).to_string()
    }
    async fn read_write(State(n): State<Arc<AtomicU64>>) -> String {
        (n.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }
    async fn new() -> &'static str {
        "created"
    }
    Router::new()
        .route("/r", get(read))
        .route("/rw", get(read_write))
        .route("/new", get(new))
        .with_state(Arc::new(AtomicU64::new(0)))
}

/// tower-sessions 0.14 over `store` (its Redis and sqlx stores exist only for 0.14), with
/// `with_secure(false)` and a 30-minute inactivity expiry (sessionward's idle timeout).
pub fn tower_sessions_014<S>(store: S) -> Router
where
    S: tower_sessions_014::SessionStore + Clone,
{
    use tower_sessions_014::cookie::time::Duration as CookieDuration;
    use tower_sessions_014::{Expiry, Session, SessionManagerLayer};

    fn fail(_: tower_sessions_014::session::Error) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
    async fn read(session: Session) -> Result<String, StatusCode> {
        let n = session.get::<u64>("n").await.map_err(fail)?.unwrap_or(0);
        Ok(n.to_string())
    }
    async fn read_write(session: Session) -> Result<String, StatusCode> {
        let n = session.get::<u64>("n").await.map_err(fail)?.unwrap_or(0) + 1;
        session.insert("n", n).await.map_err(fail)?;
        Ok(n.to_string())
    }
    async fn new(session: Session) -> Result<&'static str, StatusCode> {
        session.insert("n", 0u64).await.map_err(fail)?;
        Ok("created")
    }
    let layer = SessionManagerLayer::new(store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(CookieDuration::minutes(30)));
    Router::new()
        .route("/r", get(read))
        .route("/rw", get(read_write))
        .route("/new", get(new))
        .layer(layer)
        .with_state(())
}

/// tower-sessions 0.15 over its `MemoryStore`, with `with_secure(false)`: the peer of the
/// in-memory benches (`requests.rs`, `bearer.rs`).
pub fn tower_sessions() -> Router {
    use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

    fn fail(_: tower_sessions::session::Error) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
    async fn read(session: Session) -> Result<String, StatusCode> {
        let n = session.get::<u64>("n").await.map_err(fail)?.unwrap_or(0);
        Ok(n.to_string())
    }
    async fn read_write(session: Session) -> Result<String, StatusCode> {
        let n = session.get::<u64>("n").await.map_err(fail)?.unwrap_or(0) + 1;
        session.insert("n", n).await.map_err(fail)?;
        Ok(n.to_string())
    }
    async fn new(session: Session) -> Result<&'static str, StatusCode> {
        session.insert("n", 0u64).await.map_err(fail)?;
        Ok("created")
    }
    Router::new()
        .route("/r", get(read))
        .route("/rw", get(read_write))
        .route("/new", get(new))
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
        .with_state(())
}
