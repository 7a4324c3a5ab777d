//! The audit trail: every sign-in, sign-out and ended session, as events for a log, a file or
//! a live view.
//!
//! [`SessionLayer::audit`](crate::SessionLayer::audit) sends the layer's events to an
//! [`AuditSink`]. Each [`AuditEvent`] has its time, the session's public id (never its token
//! or token hash), the user, the client IP and user agent where known, and a reason where one
//! applies. What the layer reports, and when:
//!
//! | event | when |
//! |---|---|
//! | `session_created` | an anonymous session is first stored |
//! | `login` | [`Session::login`](crate::Session::login) succeeded |
//! | `login_failed` | the app reported it ([`Session::login_failed`](crate::Session::login_failed)), or a session limit refused a login (reason `session_limit`) |
//! | `rotated` | [`Session::rotate`](crate::Session::rotate) replaced the token |
//! | `renewed` | a request moved the idle deadline on |
//! | `logout` | [`Session::logout`](crate::Session::logout) ended the session |
//! | `revoked` | another session of the user ended it ([`Session::revoke`](crate::Session::revoke), `revoke_others`, `revoke_all`) |
//! | `evicted` | a login beyond [`max_sessions_per_user`](crate::SessionLayer::max_sessions_per_user) ended it (reason `session_limit`) |
//! | `expired_idle`, `expired_absolute` | a request presented a session past that deadline |
//! | `invalid_token` | a request presented a token that is `malformed` or `unknown` (the reason); for a JWT access token also `expired`, `wrong_subject`, `revoked` (a session this instance ended, in the stateless bearer mode) or the `InvalidToken` reason |
//! | `refresh_reuse` | a used refresh token presented again: the session is revoked |
//! | `csrf_rejected` | [`CrossOriginLayer`](crate::csrf::CrossOriginLayer) refused a cross-origin request, or [`CsrfTokenLayer`](crate::csrf::CsrfTokenLayer) one without the session's token |
//!
//! Events about a request's session are found when the session is first used, as the
//! session itself is: a request that never touches its session reports nothing about it.
//!
//! Sinks: [`TracingAudit`] (`tracing` events), [`JsonLinesAudit`] (JSON lines to any writer),
//! [`BroadcastAudit`] (live subscribers), [`AuditSink::and`] for several, or your own. A sink
//! runs on a thread of its own behind a bounded queue ([`AuditHandle`]): a slow, failing or
//! panicking sink never slows down or fails a request; events it cannot take in time are
//! dropped and counted. A sink that names the events it keeps ([`AuditSink::filter`]) costs a
//! request nothing for the others.
//!
//! Without a sink of its own, a layer reports to the process's `tracing` trail
//! ([`AuditHandle::tracing`]: [`TracingAudit`], which keeps the events a `tracing` subscriber
//! listens to), as do [`CrossOriginLayer`](crate::csrf::CrossOriginLayer) and the admin and
//! remote routes; [`SessionLayer::without_audit`](crate::SessionLayer::without_audit) turns
//! a layer's trail off.
//!
//! ```no_run
//! use axum::{routing::post, Form, Router};
//! use serde::Deserialize;
//! use sessionward::audit::{AuditSink as _, JsonLinesAudit, TracingAudit};
//! use sessionward::{store::MemoryStore, Session, SessionError, SessionLayer};
//!
//! #[derive(Deserialize)]
//! struct Creds { username: String, password: String }
//!
//! async fn login(session: Session, Form(creds): Form<Creds>) -> Result<&'static str, SessionError> {
//!     if creds.password != "let me in" {
//!         // The app reports failed logins through the same trail.
//!         session.login_failed(&creds.username, "invalid_credentials").await;
//!         return Ok("no");
//!     }
//!     session.login(creds.username.as_str()).await?;
//!     Ok("welcome")
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let trail = JsonLinesAudit::append_to("audit.jsonl")?.and(TracingAudit::default());
//! let layer = SessionLayer::new(MemoryStore::default()).audit(trail);
//! let audit = layer.config().audit().cloned().expect("set above");
//! let app: Router = Router::new().route("/login", post(login)).layer(layer);
//! // … serve `app`; at shutdown:
//! audit.flush().await;
//! println!("{} audit events dropped", audit.dropped());
//! # Ok(())
//! # }
//! ```

mod broadcast;
mod delivery;
mod event;
mod fan_out;
mod handle;
mod json_lines;
mod packed;
mod queue;
mod sink;
mod target;
mod tracing_sink;
mod warning;

pub use broadcast::BroadcastAudit;
pub use event::{AuditEvent, AuditKind};
pub use fan_out::FanOut;
pub use handle::{AuditHandle, DEFAULT_CAPACITY};
pub use json_lines::JsonLinesAudit;
pub(crate) use packed::EventParts;
pub use sink::AuditSink;
pub(crate) use target::AuditTarget;
pub use tracing_sink::TracingAudit;
