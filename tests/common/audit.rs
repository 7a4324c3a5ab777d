//! Reading the audit trail in tests: a sink that keeps every event, and the routes that make
//! the events the common routes do not.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use sessionward::audit::{AuditEvent, AuditHandle, AuditKind, AuditSink};
use sessionward::token::SessionToken;

/// The `User-Agent` the audit tests send.
pub const AGENT: &str = "audit-test/1.0";

/// A sink that keeps every event it receives.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<AuditEvent>>>);

impl AuditSink for Recorder {
    fn record(&mut self, event: &AuditEvent) -> std::io::Result<()> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

impl Recorder {
    /// Every event recorded before this call (the queue flushed first), taken out.
    pub async fn take(&self, handle: &AuditHandle) -> Vec<AuditEvent> {
        handle.flush().await;
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The kinds of the events [`take`](Self::take) takes out, in order.
    pub async fn kinds(&self, handle: &AuditHandle) -> Vec<AuditKind> {
        self.take(handle).await.iter().map(|e| e.event).collect()
    }
}

/// What a test expects of one event.
pub struct Expected<'a> {
    pub kind: AuditKind,
    pub session_id: Option<&'a str>,
    pub user: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// Checks `event` against `expected`, and that it came from a loopback client sending
/// [`AGENT`] at a time between `since` and now, and that its JSON holds none of `tokens`
/// (session tokens in their cookie form) nor their hashes.
pub fn check(event: &AuditEvent, expected: Expected<'_>, since: SystemTime, tokens: &[&str]) {
    assert_eq!(event.event, expected.kind, "{event:?}");
    assert_eq!(
        event.session_id.map(|id| id.to_string()).as_deref(),
        expected.session_id,
        "session id of {event:?}"
    );
    assert_eq!(event.user.as_deref(), expected.user, "user of {event:?}");
    assert_eq!(
        event.reason.as_deref(),
        expected.reason,
        "reason of {event:?}"
    );
    assert_eq!(
        event.ip,
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        "ip of {event:?}"
    );
    assert_eq!(
        event.user_agent.as_deref(),
        Some(AGENT),
        "user agent of {event:?}"
    );
    assert!(
        since <= event.time && event.time <= SystemTime::now(),
        "time of {event:?}"
    );
    assert_no_token(&serde_json::to_string(event).unwrap(), tokens);
}

/// Fails if `text` holds any of `tokens` or the hex of their hashes.
pub fn assert_no_token(text: &str, tokens: &[&str]) {
    for token in tokens {
        assert!(!token.is_empty());
        assert!(!text.contains(token), "a token in {text}");
        let hash = SessionToken::parse(token.as_bytes()).map(|t| t.hash().to_hex());
        if let Some(hash) = hash {
            assert!(!text.contains(&hash), "a token hash in {text}");
        }
    }
}

/// Audit-specific routes, on top of [`super::routes::app`].
pub mod routes {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::post;
    use axum::Router;
    use sessionward::token::SessionId;
    use sessionward::{Session, SessionError};

    pub fn app() -> Router {
        super::super::routes::app()
            .route("/login-failed/{user}", post(login_failed))
            .route("/revoke/{id}", post(revoke))
            .route("/revoke-others", post(revoke_others))
    }

    /// What an app does when a password is wrong.
    async fn login_failed(session: Session, Path(user): Path<String>) -> StatusCode {
        session.login_failed(&user, "invalid_credentials").await;
        StatusCode::UNAUTHORIZED
    }

    async fn revoke(session: Session, Path(id): Path<String>) -> Result<String, SessionError> {
        let id = SessionId::parse(&id).expect("a session id");
        Ok(session.revoke(&id).await?.to_string())
    }

    async fn revoke_others(session: Session) -> Result<String, SessionError> {
        Ok(session.revoke_others().await?.to_string())
    }
}

/// Serves `app` like [`super::serve`], with a client that sends [`AGENT`].
pub async fn serve(app: axum::Router) -> super::Server {
    let mut server = super::serve(app).await;
    server.client = reqwest::Client::builder()
        .user_agent(AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    server
}
