//! Complete, secure session management for [tower] and [axum] apps, in one layer.
//!
//! ```no_run
//! use axum::{routing::{get, post}, Json, Router};
//! use sessionward::{store::MemoryStore, Authenticated, Session, SessionError, SessionLayer};
//!
//! async fn login(session: Session) -> Result<&'static str, SessionError> {
//!     // … check the credentials first …
//!     session.login("alice").await?; // new token: no session fixation
//!     Ok("welcome")
//! }
//!
//! async fn me(user: Authenticated) -> String {
//!     user.user().to_owned() // 401 {"error":"unauthenticated"} without a session
//! }
//!
//! async fn visit(session: Session) -> Result<Json<u64>, SessionError> {
//!     let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
//!     session.insert("visits", &visits).await?;
//!     Ok(Json(visits))
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let app = Router::new()
//!         .route("/login", post(login))
//!         .route("/me", get(me))
//!         .route("/visit", get(visit))
//!         .layer(SessionLayer::new(MemoryStore::default()));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//!     axum::serve(listener, app).await.unwrap();
//! }
//! ```
//!
//! # How a request is handled
//!
//! 1. [`SessionLayer`] finds the token: `Authorization: Bearer` first, then the cookie. Junk
//!    (wrong length or alphabet, oversized, two session cookies) counts as "no session" and
//!    costs no store call.
//! 2. It puts a [`Session`] in the request extensions. The store is not read yet: a request
//!    that never touches its session costs no store round trip.
//! 3. The first use of the session loads it (one read). The record is checked: it must exist,
//!    be within its absolute deadline, then within its idle deadline; an expired one is
//!    ended (deleted, or kept marked as expired by a store with retention) and the request
//!    sees no session.
//! 4. After the handler, the layer writes what changed in one call (per-key, so concurrent
//!    requests changing different keys both keep theirs), renews the idle deadline at most
//!    once per [`SessionConfig::renewal_interval`], and sets or clears the cookie with
//!    `Cache-Control: no-store`.
//!
//! A failing store is never "no session": the request gets 503 `{"error":
//! "session_store_unavailable"}` and the cookie is left alone.
//!
//! # Tokens
//!
//! Tokens are 32 bytes from the OS CSPRNG in base64url (43 characters). The store keeps only
//! their SHA-256, so a leaked store or log cannot be replayed. Each session also has a public
//! [`SessionId`] for listings and revocation, which is not a credential.
//!
//! # Timeouts
//!
//! Every session ends at the earlier of its idle deadline (renewed by use) and its absolute
//! deadline (set at login, never moved): 30 minutes and 8 hours unless the layer says
//! otherwise. A [`TimeoutPolicy`] can choose per login, from a [`Login`] with roles and a
//! "remember me" choice; what it chooses is stored with the session, so every instance sharing
//! the store applies the same deadlines.
//!
//! # Audit trail
//!
//! [`SessionLayer::audit`] reports logins, logouts, rotations, revocations, evictions,
//! expiries and refused tokens to an [`audit::AuditSink`] (`tracing`, JSON lines, a broadcast
//! channel, or your own), off the request path: see [`audit`].
//!
//! # Retention of ended sessions
//!
//! Off by default: a logout, a revocation, an eviction by a session cap, or an expiry deletes
//! the session. A store built with `with_retention(period)` keeps ended sessions for `period`
//! instead, marked with their [`EndReason`](store::EndReason) and time
//! ([`SessionRecord::ended`](store::SessionRecord::ended)), for admins to list under
//! [`SessionState::Expired`](store::SessionState::Expired);
//! [`spawn_cleanup`](store::spawn_cleanup) purges them once the period has passed. An ended
//! session is never usable again: its token is refused as an unknown one. See
//! [`SessionStore::end`](store::SessionStore::end).
//!
//! # Cargo features
//!
//! Each store is behind its own feature, so an app compiles only the backend it uses.
//!
//! | feature | adds |
//! |---|---|
//! | `memory-store` (default) | `store::MemoryStore`: sessions in this process, the reference store |
//! | `sqlite` | `store::SqliteStore`: one file, WAL mode; sessions survive a restart |
//! | `postgres` | `store::PostgresStore`: sessions shared by many app instances |
//! | `mysql` | `store::MySqlStore`: MySQL 8.0.16+ and MariaDB 10.3+ |
//! | `redis` | `store::RedisStore`: standalone Redis or Redis Cluster |
//! | `all-stores` | `sqlite`, `postgres`, `mysql` and `redis` |
//! | `admin` | `admin`: a mountable admin API (list, export, end and count sessions; a live dashboard) and routes for other servers to end sessions with a shared secret |
//! | `jwt` | `token::AccessTokens`: signed JWT access tokens for a session, a `token::KeyRing` with key rotation, strict verification (RFC 8725); the layer accepts them as bearer credentials (`SessionLayer::access_tokens`), stateful or stateless (`token::BearerMode`) |
//! | `client` | `client`: a tower layer for HTTP clients of a bearer-token API (adds the token, refreshes it before expiry or after a 401, once for many requests), and a login helper |
//! | `conformance` | `store::conformance`: the suite every [`SessionStore`](store::SessionStore) must pass, for your own backend's tests |
//!
//! Without `memory-store` (`default-features = false`), bring a store of your own or enable
//! another one; [`store::BoxedStore`] picks one at run time.
//!
//! [tower]: https://docs.rs/tower
//! [axum]: https://docs.rs/axum
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
pub mod audit;
mod authenticated;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
mod client_ip;
mod config;
mod cookie_check;
pub mod csrf;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod layer;
mod session;
pub mod store;
mod timeout_policy;
pub mod token;

pub use authenticated::Authenticated;
pub use client_ip::{InvalidProxy, TrustedProxies};
pub use config::{CookieConfig, SessionConfig};
pub use cookie::SameSite;
pub use cookie_check::CookieConfigError;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use error::{AccessTokenError, RefreshRefused};
pub use error::{
    AuthRejection, DataLimit, LimitReached, SessionError, SessionRejection, StoreError,
};
pub use layer::{ResponseFuture, SessionLayer, SessionService};
pub use session::{DeviceSession, Session};
pub use timeout_policy::{Login, TimeoutPolicy, Timeouts};
pub use token::{Presented, SessionId};

/// Compiles the README's examples as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
