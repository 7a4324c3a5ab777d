//! The middleware: [`SessionLayer`] and its [`SessionService`].

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum_core::body::Body;
use axum_core::response::IntoResponse;
use http::header::{CACHE_CONTROL, SET_COOKIE, USER_AGENT};
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::audit::{AuditHandle, AuditSink, AuditTarget};
use crate::client_ip::{ClientAddr, TrustedProxies};
use crate::config::{CookieConfig, SessionConfig};
use crate::error::StoreError;
use crate::session::{ClientInfo, CookieAction, Outcome, Session, Shared, Written};
use crate::store::erased::BoxFuture;
use crate::store::{Overflow, SessionStore, TimeoutStore};
use crate::timeout_policy::{PolicyHandle, TimeoutPolicy};
use crate::token::Credential;

/// Adds a [`Session`] to every request and persists its changes.
///
/// The layer finds the session token (`Authorization: Bearer` first, then the cookie), puts a
/// lazily-loaded [`Session`] in the request extensions, and after the handler writes what
/// changed (one store call at most) and sets or clears the cookie. It works with
/// `Router::layer` and `Router::route_layer` and needs no other layer.
///
/// ```
/// use std::time::Duration;
/// use axum::{routing::get, Router};
/// use sessionward::{store::MemoryStore, CookieConfig, SessionLayer};
///
/// let layer = SessionLayer::new(MemoryStore::default())
///     .idle_timeout(Duration::from_secs(15 * 60))
///     .absolute_timeout(Duration::from_secs(4 * 3600))
///     .cookie(CookieConfig::default().persistent(true));
/// let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(layer);
/// ```
pub struct SessionLayer<S> {
    // `S` stays in the type so the layer says which store it uses; requests reach the store
    // through `shared`, made once here rather than per route or per request.
    _store: PhantomData<fn() -> S>,
    shared: Arc<Shared>,
}

impl<S> Clone for SessionLayer<S> {
    fn clone(&self) -> Self {
        Self {
            _store: PhantomData,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> std::fmt::Debug for SessionLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<S: SessionStore> SessionLayer<S> {
    /// A layer keeping sessions in `store`, with the secure defaults of [`SessionConfig`] and
    /// [`CookieConfig`]: 30 min idle timeout, 8 h absolute lifetime, bearer tokens accepted.
    pub fn new(store: S) -> Self {
        Self {
            _store: PhantomData,
            shared: Arc::new(Shared {
                store: Arc::new(store),
                config: SessionConfig::default(),
            }),
        }
    }

    /// Gives each store call a request makes at most `timeout` (default: no limit but the
    /// store's own). Past it the call is abandoned and the request answers 503
    /// `{"error":"session_store_unavailable"}` like any store failure: never "no session",
    /// and the client's cookie is left alone. So a store that stops answering (a hung server,
    /// a connection that goes silent, a pool waiting for a connection) holds a request for a
    /// known time, the same for every backend, and the app answers again as soon as the store
    /// does. Calling it again replaces the timeout.
    ///
    /// The bound is per store call, not per request (most requests make one read and at most
    /// one write): a request whose store stops answering gets its 503 `timeout` after the
    /// call that got no answer began. **A write that timed out may still land**: the request got a 503, but a command
    /// already sent can be applied later by a server that was slow rather than gone, even
    /// after a later write of the same session; a session ended meanwhile stays ended. An
    /// answer the store gives at once (the memory store's) is never timed, and without this
    /// setting a request costs no timer. The admin API and
    /// [`spawn_cleanup`](crate::store::spawn_cleanup) use the store directly: wrap it in a
    /// [`TimeoutStore`] for them. It needs tokio's timer (`#[tokio::main]` has it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionward::{store::MemoryStore, SessionLayer};
    ///
    /// let layer = SessionLayer::new(MemoryStore::default())
    ///     .store_timeout(Duration::from_millis(500));
    /// ```
    ///
    /// # Panics
    /// If `timeout` is zero.
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        assert!(!timeout.is_zero(), "a store timeout must not be zero");
        let shared = Arc::make_mut(&mut self.shared);
        let store = Arc::clone(&shared.store).untimed();
        shared.store = Arc::new(TimeoutStore::new(store, timeout));
        self
    }

    /// Changes the configuration; the layer is not shared with any request yet.
    fn configure(mut self, change: impl FnOnce(&mut SessionConfig)) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        change(&mut shared.config);
        self
    }

    /// Ends sessions unused for `timeout` (default 30 minutes). Renewal is written at most once
    /// per `min(60 s, timeout / 4)`, so expiry is precise to that interval. A timeout over
    /// [`SessionConfig::MAX_TIMEOUT`] (100 years) is capped to it.
    ///
    /// # Panics
    /// If `timeout` is zero.
    pub fn idle_timeout(self, timeout: Duration) -> Self {
        assert!(!timeout.is_zero(), "idle timeout must not be zero");
        let timeout = timeout.min(SessionConfig::MAX_TIMEOUT);
        self.configure(|c| c.idle_timeout = timeout)
    }

    /// Ends sessions `lifetime` after login or creation, however active (default 8 hours).
    /// Neither renewal nor rotation extends it. A lifetime over
    /// [`SessionConfig::MAX_TIMEOUT`] (100 years) is capped to it.
    ///
    /// # Panics
    /// If `lifetime` is zero.
    pub fn absolute_timeout(self, lifetime: Duration) -> Self {
        assert!(!lifetime.is_zero(), "absolute timeout must not be zero");
        let lifetime = lifetime.min(SessionConfig::MAX_TIMEOUT);
        self.configure(|c| c.absolute_timeout = lifetime)
    }

    /// Whether to accept `Authorization: Bearer <token>` (default `true`). A request that sends
    /// one is judged by it alone; the cookie is then ignored.
    pub fn bearer(self, accept: bool) -> Self {
        self.configure(|c| c.bearer = accept)
    }

    /// Sets the session cookie's attributes.
    ///
    /// # Panics
    /// If the attributes break a rule [`try_cookie`](Self::try_cookie) checks, with its
    /// message: at start-up, never in a request.
    pub fn cookie(self, cookie: CookieConfig) -> Self {
        match self.try_cookie(cookie) {
            Ok(layer) => layer,
            Err(err) => panic!("invalid session cookie: {err}"),
        }
    }

    /// Sets the session cookie's attributes, once they pass the browsers' rules (RFC 6265bis):
    /// a `__Host-` name needs `Secure`, `Path=/` and no `Domain`; a `__Secure-` name needs
    /// `Secure`; `SameSite=None` needs `Secure`; a path starts with `/`. A persistent
    /// cookie's `Max-Age` never passes the session's absolute deadline, nor the 400 days
    /// browsers keep a cookie at most.
    ///
    /// ```
    /// use sessionward::{store::MemoryStore, CookieConfig, CookieConfigError, SessionLayer};
    ///
    /// let cookie = CookieConfig::default().domain("example.com");
    /// let err = SessionLayer::new(MemoryStore::default()).try_cookie(cookie).unwrap_err();
    /// assert_eq!(err, CookieConfigError::HostPrefixWithDomain);
    /// ```
    ///
    /// # Errors
    /// The first rule broken, as a [`CookieConfigError`](crate::CookieConfigError).
    pub fn try_cookie(self, cookie: CookieConfig) -> Result<Self, crate::CookieConfigError> {
        cookie.check()?;
        Ok(self.configure(|c| c.cookie = cookie))
    }

    /// Limits a session's data to `keys` keys (default 256). A write past it fails with
    /// [`SessionError::DataTooLarge`](crate::SessionError::DataTooLarge) (413) and changes
    /// nothing; removing keys always works.
    ///
    /// The limit is checked against the session as the request sees it, so concurrent
    /// requests that each add a new key can together pass it by at most one key each; the
    /// next write then sees the session over its limit and is refused.
    pub fn max_data_keys(self, keys: usize) -> Self {
        self.configure(|c| c.max_data_keys = keys)
    }

    /// Limits a session's data to `bytes` bytes of keys and JSON values (default 64 KiB), as
    /// [`max_data_keys`](Self::max_data_keys) limits its keys.
    pub fn max_data_bytes(self, bytes: usize) -> Self {
        self.configure(|c| c.max_data_bytes = bytes)
    }

    /// Believes the `Forwarded` (RFC 7239) and `X-Forwarded-For` headers of these proxies
    /// (default: none), for the client IP recorded with each session.
    ///
    /// Without trusted proxies, the client IP is the socket peer's, from axum's
    /// `ConnectInfo<SocketAddr>` (serve with `into_make_service_with_connect_info`), and
    /// forwarding headers are ignored: anyone can send them. With them, and only when the peer
    /// is one of them, the chain is read from the nearest hop outwards and the first address
    /// that is not a trusted proxy is the client. A hop with no usable address (`unknown`, an
    /// obfuscated name) ends the walk at the last trusted proxy. `Forwarded` wins over
    /// `X-Forwarded-For` when both are present.
    ///
    /// ```
    /// use sessionward::{store::MemoryStore, SessionLayer, TrustedProxies};
    ///
    /// let proxies: TrustedProxies = "10.0.0.0/8, 192.0.2.7".parse().expect("valid list");
    /// let layer = SessionLayer::new(MemoryStore::default()).trusted_proxies(proxies);
    /// ```
    pub fn trusted_proxies(self, proxies: TrustedProxies) -> Self {
        self.configure(|c| c.trusted_proxies = proxies)
    }

    /// Picks each session's timeouts at login (see [`TimeoutPolicy`]); without one, every
    /// session gets the layer's, with a persistent cookie for a [`Login`](crate::Login) that asked to be
    /// remembered.
    pub fn timeout_policy(self, policy: impl TimeoutPolicy) -> Self {
        let policy = PolicyHandle(Arc::new(policy));
        self.configure(|c| c.timeout_policy = Some(policy))
    }

    /// Allows each user at most `sessions` active signed-in sessions (at least 1); a login
    /// beyond it evicts the user's least recently used sessions
    /// ([`Overflow::EvictLeastRecentlyUsed`]) or is refused with
    /// [`SessionError::SessionLimit`](crate::SessionError::SessionLimit), 409
    /// `{"error":"session_limit"}` ([`Overflow::Refuse`]). A re-login on a session the user
    /// already holds is no new session. The check and the login are one atomic store step
    /// ([`SessionStore::admit`]), so logins racing each other never pass the limit together.
    pub fn max_sessions_per_user(self, sessions: u32, overflow: Overflow) -> Self {
        let sessions = sessions.max(1);
        self.configure(|c| c.limits.per_user = Some((sessions, overflow)))
    }

    /// Allows at most `sessions` active signed-in sessions in the whole store (at least 1; 1
    /// makes a single-session server): a login beyond it is refused with
    /// [`SessionError::SessionLimit`](crate::SessionError::SessionLimit). A re-login on a
    /// signed-in session is no new session. Each login then counts the store's active
    /// signed-in sessions, and logins take turns on it.
    pub fn max_signed_in_sessions(self, sessions: u32) -> Self {
        let sessions = sessions.max(1);
        self.configure(|c| c.limits.total = Some(sessions))
    }

    /// Reports the audit trail (see [`audit`](crate::audit)) to `sink`, on a thread of its own
    /// behind a queue of [`DEFAULT_CAPACITY`](crate::audit::DEFAULT_CAPACITY) events, so a
    /// slow or failing sink never holds up a request. [`config().audit()`](SessionConfig::audit)
    /// returns the [`AuditHandle`] with its counters.
    ///
    /// Without this call the trail goes to `tracing` ([`AuditHandle::tracing`], target
    /// `sessionward::audit`), and an event no subscriber listens to costs a request one
    /// check; [`without_audit`](Self::without_audit) turns it off.
    ///
    /// ```no_run
    /// use sessionward::audit::{AuditSink as _, JsonLinesAudit, TracingAudit};
    /// use sessionward::{store::MemoryStore, SessionLayer};
    ///
    /// let trail = JsonLinesAudit::append_to("audit.jsonl")?.and(TracingAudit::default());
    /// let layer = SessionLayer::new(MemoryStore::default()).audit(trail);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// If the operating system cannot start a thread.
    pub fn audit(self, sink: impl AuditSink) -> Self {
        self.audit_through(AuditHandle::new(sink))
    }

    /// Reports the audit trail through `handle`: one made with a queue size of your choice
    /// ([`AuditHandle::with_capacity`]), or one shared by several layers.
    pub fn audit_through(self, handle: AuditHandle) -> Self {
        self.configure(|c| c.audit = AuditTarget::Handle(handle))
    }

    /// Reports no audit events at all, not even to `tracing` (the default, see
    /// [`audit`](Self::audit)).
    pub fn without_audit(self) -> Self {
        self.configure(|c| c.audit = AuditTarget::Off)
    }

    /// Accepts JWT access tokens issued by `tokens` as `Authorization: Bearer` credentials
    /// (feature `jwt`), and lets [`Session::issue_access_token`](crate::Session::issue_access_token)
    /// issue them.
    ///
    /// By default the access tokens are stateful
    /// ([`BearerMode::Stateful`](crate::token::BearerMode::Stateful)): when a handler first
    /// uses the session, a bearer value shaped as a JWT is verified
    /// ([`AccessTokens::verify`](crate::token::AccessTokens::verify)), then the session its
    /// `sid` names is read from the store by id (the request's one store read), and its user
    /// must be the token's `sub`. The request then works exactly as if it had presented that
    /// session's opaque token by bearer: it reads and writes the session, renews it, and can
    /// log it out; no cookie is ever set. So a logout, a revocation or an eviction ends every
    /// access token of the session at once, on every instance sharing the store.
    ///
    /// With [`AccessTokens::stateless`](crate::token::AccessTokens::stateless), a valid token
    /// authenticates the request with no store read; the session is read only for its data or
    /// to act on it, and a session ended by this instance is refused here at once, by a
    /// denylist, and elsewhere once its tokens expire.
    ///
    /// A refused token (an [`InvalidToken`](crate::token::InvalidToken), a session unknown,
    /// ended or expired, a `sub` that is not the session's user, a session this instance
    /// ended in the stateless mode) means no session: an `invalid_token` audit event carries
    /// the reason (`InvalidToken::reason`, or `unknown`, `expired`, `wrong_subject`,
    /// `revoked`), and [`Authenticated`](crate::Authenticated) answers 401 with
    /// `WWW-Authenticate: Bearer error="invalid_token"`.
    ///
    /// A repeat of a token already verified skips the verification but not the checks of its
    /// times and session: see [`remember_verified_tokens`](Self::remember_verified_tokens).
    ///
    /// ```
    /// # #[cfg(feature = "jwt")] {
    /// use sessionward::token::{AccessTokens, KeyRing};
    /// use sessionward::{store::MemoryStore, SessionLayer};
    ///
    /// let ring = KeyRing::from_secret("a secret of at least 32 bytes, shared by all instances")?;
    /// let layer = SessionLayer::new(MemoryStore::default()).access_tokens(AccessTokens::new(ring));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
    pub fn access_tokens(self, tokens: crate::token::AccessTokens) -> Self {
        self.configure(|c| c.set_access_tokens(tokens))
    }

    /// How many verified access tokens the layer remembers (feature `jwt`; default 1,024,
    /// about 300 KiB when full; `0`: every request verifies its token in full).
    ///
    /// A client sends the same token until it nears expiry. Whether a token passes every check
    /// but its times depends only on its text and the layer's
    /// [`AccessTokens`](crate::token::AccessTokens), so a repeat of a remembered token is
    /// compared byte for byte with it and skips decoding, parsing and the signature check
    /// (about 1 µs); its `exp`, `nbf` and `iat`, the denylist and the session are checked on
    /// every request all the same. Only tokens that passed are remembered, each in the place
    /// its signature picks, replacing whatever held it: memory stays bounded.
    #[cfg(feature = "jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
    pub fn remember_verified_tokens(self, places: usize) -> Self {
        self.configure(|c| c.remember_verified_tokens(places))
    }

    /// Puts a signed JWT in the session cookie instead of the bare opaque token (feature
    /// `jwt`), signed with `tokens`, which also become the layer's
    /// [`access_tokens`](Self::access_tokens) (one key ring for both).
    ///
    /// The JWT (header `typ: session+jwt`) carries `sub` (the user; absent while anonymous),
    /// `sid` (the public session id), `iat`, `nbf`, `exp`, `iss` and `aud` when configured,
    /// and `tok`: the session's opaque token. It is never accepted as an access token, nor
    /// an access token as a cookie. What each mode does with it:
    ///
    /// * **Stateful** (the default): after the signature and claims pass, the request goes on
    ///   exactly as with the opaque cookie inside: the store is read by the token's hash, so
    ///   idle and absolute timeouts, renewal, rotation at login (the old cookie's JWT is dead:
    ///   no session fixation), logout, revocation and caps all behave the same. `exp` is the
    ///   session's absolute deadline. A cookie that fails verification is no session, with an
    ///   `invalid_token` audit event giving the reason.
    /// * **[Stateless](crate::token::AccessTokens::stateless)**: a signed-in session's cookie
    ///   authenticates with no store read while it has more than half of the access token
    ///   lifetime left (`exp` is at most one lifetime ahead, and never past the absolute
    ///   deadline). In the second half, or once past `exp`, the request reads the session by
    ///   its token like the stateful mode (which renews the idle deadline, and refuses an
    ///   ended or expired session), and the response carries a re-issued cookie. So an active
    ///   user's cookie is renewed about every half lifetime, an idle one falls back to the
    ///   store, and the absolute deadline holds. A session ended on this instance is refused
    ///   at once (the denylist); one ended elsewhere, within half a lifetime (plus the
    ///   leeway). Anonymous sessions always read the store.
    ///
    /// Opaque cookies issued before the switch keep working until their sessions end.
    ///
    /// ```
    /// # #[cfg(feature = "jwt")] {
    /// use sessionward::token::{AccessTokens, KeyRing};
    /// use sessionward::{store::MemoryStore, SessionLayer};
    ///
    /// let ring = KeyRing::from_secret("a secret of at least 32 bytes, shared by all instances")?;
    /// let layer = SessionLayer::new(MemoryStore::default()).jwt_cookies(AccessTokens::new(ring));
    /// assert!(layer.config().jwt_cookies());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
    pub fn jwt_cookies(self, tokens: crate::token::AccessTokens) -> Self {
        self.configure(|c| {
            c.set_access_tokens(tokens);
            c.jwt_cookies = true;
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }
}

impl<S: SessionStore, I> Layer<I> for SessionLayer<S> {
    type Service = SessionService<I>;

    fn layer(&self, inner: I) -> Self::Service {
        SessionService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The [`Service`](https://docs.rs/tower-service/0.3/tower_service/trait.Service.html) made by
/// [`SessionLayer`].
pub struct SessionService<I> {
    inner: I,
    shared: Arc<Shared>,
}

impl<I: Clone> Clone for SessionService<I> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<I: std::fmt::Debug> std::fmt::Debug for SessionService<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// The response future of [`SessionService`]: the inner service's future, then, only when
    /// the session changed, the store write.
    pub struct ResponseFuture<F> {
        #[pin]
        step: Step<F>,
        session: Option<Session>,
    }
}

pin_project! {
    #[project = StepProj]
    enum Step<F> {
        Handler { #[pin] future: F },
        Writing {
            future: BoxFuture<'static, Result<(), StoreError>>,
            then: Option<(Response<Body>, CookieAction, Session, Written)>,
        },
    }
}

impl<I, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<I>
where
    I: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum_core::BoxError>,
{
    type Response = Response<Body>;
    type Error = I::Error;
    type Future = ResponseFuture<I::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let config = &self.shared.config;
        #[cfg(feature = "jwt")]
        let (accept_jwt, cookie_jwt) = (config.access_tokens.is_some(), config.jwt_cookies());
        #[cfg(not(feature = "jwt"))]
        let (accept_jwt, cookie_jwt) = (false, false);
        let credential = Credential::find(
            req.headers(),
            config.cookie.name_finder(),
            config.bearer,
            accept_jwt,
            cookie_jwt,
        );
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let client = ClientInfo {
            user_agent: req.headers().get(USER_AGENT).cloned(),
            addr: ClientAddr::new(peer, req.headers(), &config.trusted_proxies),
        };
        let session = Session::new(Arc::clone(&self.shared), credential, client);
        req.extensions_mut().insert(session.clone());
        ResponseFuture {
            step: Step::Handler {
                future: self.inner.call(req),
            },
            session: Some(session),
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum_core::BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.step.as_mut().project() {
                StepProj::Handler { future } => {
                    let response = std::task::ready!(future.poll(cx))?.map(Body::new);
                    let session = this.session.take().expect("polled after completion");
                    let Outcome {
                        write,
                        cookie,
                        audit,
                    } = session.outcome();
                    let shared = session.shared();
                    let Some(write) = write else {
                        // Nothing to store (the common case): no allocation, no await.
                        return Poll::Ready(Ok(with_cookie(
                            &shared.config.cookie,
                            cookie,
                            response,
                        )));
                    };
                    let future = match shared.store.write_now(write) {
                        Ok(written) => {
                            return Poll::Ready(Ok(after_write(
                                written, cookie, response, &session, audit,
                            )))
                        }
                        Err(write) => Arc::clone(&shared.store).write_later(write),
                    };
                    let then = Some((response, cookie, session, audit));
                    this.step.set(Step::Writing { future, then });
                }
                StepProj::Writing { future, then } => {
                    let written = std::task::ready!(future.as_mut().poll(cx));
                    let (response, cookie, session, audit) =
                        then.take().expect("polled after completion");
                    let response = after_write(written, cookie, response, &session, audit);
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}

/// The response once the write is done: with the cookie, or a 503 when the write failed (the
/// handler's answer claimed a change that was not saved; the cookie is left as it was). Only
/// a saved write is audited.
fn after_write(
    written: Result<(), StoreError>,
    cookie: CookieAction,
    response: Response<Body>,
    session: &Session,
    audit: Written,
) -> Response<Body> {
    match written {
        Ok(()) => {
            session.audit_written(audit);
            with_cookie(&session.shared().config.cookie, cookie, response)
        }
        Err(err) => err.into_response(),
    }
}

/// Sets or clears the cookie as the session decided.
fn with_cookie(
    cookie: &CookieConfig,
    action: CookieAction,
    mut response: Response<Body>,
) -> Response<Body> {
    let set_cookie = match action {
        CookieAction::Keep => return response,
        CookieAction::KeepUncached => None,
        CookieAction::Set(token, max_age) => Some(cookie.set_cookie(&token, max_age)),
        #[cfg(feature = "jwt")]
        CookieAction::SetJwt(jwt, max_age) => Some(cookie.set_jwt_cookie(&jwt, max_age)),
        CookieAction::Clear => Some(cookie.clear_cookie()),
    };
    let headers = response.headers_mut();
    if let Some(set_cookie) = set_cookie {
        headers.append(SET_COOKIE, set_cookie);
    }
    // A response that hands out or clears a credential (in a cookie or in its body) must never
    // be cached.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
