//! Layer configuration: timeouts, token transport and cookie attributes.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use cookie::{Cookie, SameSite};
use http::HeaderValue;
use memchr::memmem::Finder;

use crate::audit::{AuditHandle, AuditTarget};
use crate::client_ip::TrustedProxies;
use crate::store::{SessionLimits, SessionTerms};
use crate::timeout_policy::{self, Login, PolicyHandle, Timeouts};
use crate::token::SessionToken;

/// How sessions expire and how their token travels. Built through
/// [`SessionLayer`](crate::SessionLayer)'s builder methods.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub(crate) idle_timeout: Duration,
    pub(crate) absolute_timeout: Duration,
    pub(crate) bearer: bool,
    pub(crate) cookie: CookieConfig,
    pub(crate) max_data_keys: usize,
    pub(crate) max_data_bytes: usize,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) timeout_policy: Option<PolicyHandle>,
    pub(crate) limits: SessionLimits,
    pub(crate) audit: AuditTarget,
    /// Verifies bearer JWT access tokens, when set.
    #[cfg(feature = "jwt")]
    pub(crate) access_tokens: Option<crate::token::AccessTokens>,
    /// The session cookie holds a JWT made with `access_tokens`.
    #[cfg(feature = "jwt")]
    pub(crate) jwt_cookies: bool,
    /// The access tokens verified so far with `access_tokens`; replaced whenever they are,
    /// and empty (no memory) until they are set.
    #[cfg(feature = "jwt")]
    pub(crate) verified_tokens: std::sync::Arc<crate::token::VerifiedTokens>,
    /// How many verified tokens to remember.
    #[cfg(feature = "jwt")]
    pub(crate) verified_token_places: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            // OWASP session management cheat sheet: 15–30 min idle for ordinary apps, and an
            // absolute limit of 4–8 h so a stolen session cannot live forever.
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(8 * 3600),
            bearer: true,
            cookie: CookieConfig::default(),
            // Generous for what a session should hold (ids, flags, a cart), small enough that
            // one client cannot grow a session without bound: every write of a stored
            // session's data is bounded by it.
            max_data_keys: 256,
            max_data_bytes: 64 * 1024,
            trusted_proxies: TrustedProxies::none(),
            timeout_policy: None,
            limits: SessionLimits::default(),
            audit: AuditTarget::Tracing,
            #[cfg(feature = "jwt")]
            access_tokens: None,
            #[cfg(feature = "jwt")]
            jwt_cookies: false,
            #[cfg(feature = "jwt")]
            verified_tokens: std::sync::Arc::new(crate::token::VerifiedTokens::new(0)),
            #[cfg(feature = "jwt")]
            verified_token_places: crate::token::DEFAULT_VERIFIED_PLACES,
        }
    }
}

impl SessionConfig {
    /// Sets the access tokens, with a fresh table of verified ones: a token verified with
    /// other access tokens may not pass these.
    #[cfg(feature = "jwt")]
    pub(crate) fn set_access_tokens(&mut self, tokens: crate::token::AccessTokens) {
        self.access_tokens = Some(tokens);
        self.remember_verified_tokens(self.verified_token_places);
    }

    /// Remembers up to `places` verified access tokens, in a fresh table once access tokens
    /// are set.
    #[cfg(feature = "jwt")]
    pub(crate) fn remember_verified_tokens(&mut self, places: usize) {
        self.verified_token_places = places;
        let places = if self.access_tokens.is_some() {
            places
        } else {
            0
        };
        self.verified_tokens = std::sync::Arc::new(crate::token::VerifiedTokens::new(places));
    }

    /// The longest idle timeout or absolute lifetime the layer applies: 100 years (36,500
    /// days). Longer settings, up to `Duration::MAX`, are capped to it, so "no limit" can be
    /// written as `Duration::MAX` and every deadline stays far inside what clocks and stores
    /// (Unix milliseconds in 64 bits) can hold.
    pub const MAX_TIMEOUT: Duration = Timeouts::MAX;

    /// Idle timeout: a session unused for this long ends.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// Absolute lifetime, counted from login (or creation), never extended.
    pub fn absolute_timeout(&self) -> Duration {
        self.absolute_timeout
    }

    /// The proxies whose forwarding headers are believed (none by default).
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted_proxies
    }

    /// Whether `Authorization: Bearer` tokens are accepted.
    pub fn accepts_bearer(&self) -> bool {
        self.bearer
    }

    /// The session cookie's attributes.
    pub fn cookie(&self) -> &CookieConfig {
        &self.cookie
    }

    /// The limits on signed-in sessions (none by default).
    pub fn session_limits(&self) -> &SessionLimits {
        &self.limits
    }

    /// Where audit events go (see [`SessionLayer::audit`](crate::SessionLayer::audit)): by
    /// default the process's `tracing` trail ([`AuditHandle::tracing`], started by this call
    /// if it was not; `None` if its thread cannot be started), `None` after
    /// [`SessionLayer::without_audit`](crate::SessionLayer::without_audit). Keep a clone to
    /// [`flush`](AuditHandle::flush) it at shutdown, read its counters, or give the same trail
    /// to the admin routes.
    pub fn audit(&self) -> Option<&AuditHandle> {
        self.audit.handle()
    }

    /// The JWT access tokens the layer accepts and issues (feature `jwt`), if set with
    /// [`SessionLayer::access_tokens`](crate::SessionLayer::access_tokens).
    #[cfg(feature = "jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
    pub fn access_tokens(&self) -> Option<&crate::token::AccessTokens> {
        self.access_tokens.as_ref()
    }

    /// Whether the session cookie holds a signed JWT (feature `jwt`), as set with
    /// [`SessionLayer::jwt_cookies`](crate::SessionLayer::jwt_cookies).
    #[cfg(feature = "jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
    pub fn jwt_cookies(&self) -> bool {
        self.jwt_cookies && self.access_tokens.is_some()
    }

    /// The most keys a session's data may hold.
    pub fn max_data_keys(&self) -> usize {
        self.max_data_keys
    }

    /// The most bytes a session's data may hold, keys and JSON values counted.
    pub fn max_data_bytes(&self) -> usize {
        self.max_data_bytes
    }

    /// How long after the last recorded activity a renewal is written again: `min(60 s,
    /// idle_timeout / 4)`. Activity inside that window is not recorded, so a session may end up
    /// to this long before `idle_timeout` after its very last request.
    ///
    /// A session whose [`TimeoutPolicy`](crate::TimeoutPolicy) chose another idle timeout is
    /// renewed at the same fraction of its own.
    pub fn renewal_interval(&self) -> Duration {
        renewal_interval(self.idle_timeout)
    }

    /// The absolute and idle deadlines of a session signed in (or created) at `now`.
    pub(crate) fn deadlines(&self, now: SystemTime) -> (SystemTime, SystemTime) {
        deadlines(now, &self.timeouts())
    }

    /// The layer's own timeouts, for sessions no [`TimeoutPolicy`](crate::TimeoutPolicy) gave
    /// others.
    fn timeouts(&self) -> Timeouts {
        Timeouts::of_layer(
            self.idle_timeout,
            self.absolute_timeout,
            self.cookie.is_persistent(),
        )
    }

    /// The timeouts of the session `login` starts, and what the store keeps of them (see
    /// [`TimeoutPolicy`](crate::TimeoutPolicy)).
    pub(crate) fn choose_timeouts(
        &self,
        login: &Login,
        had_terms: bool,
    ) -> (Timeouts, Option<SessionTerms>) {
        timeout_policy::choose(
            self.timeouts(),
            self.timeout_policy.as_ref(),
            login,
            had_terms,
        )
    }
}

/// How long after the last recorded activity a session with idle timeout `idle` is renewed.
pub(crate) fn renewal_interval(idle: Duration) -> Duration {
    (idle / 4).min(Duration::from_secs(60))
}

/// The absolute and idle deadlines of a session on `timeouts` signed in (or created) at `now`.
pub(crate) fn deadlines(now: SystemTime, timeouts: &Timeouts) -> (SystemTime, SystemTime) {
    let expires_at = after(now, timeouts.absolute());
    (expires_at, idle_deadline(now, timeouts.idle(), expires_at))
}

/// The idle deadline of a session active at `now`, never past its absolute deadline.
pub(crate) fn idle_deadline(now: SystemTime, idle: Duration, expires_at: SystemTime) -> SystemTime {
    after(now, idle).min(expires_at)
}

/// `now + span`, checked. Timeouts are capped at [`SessionConfig::MAX_TIMEOUT`], so this
/// overflows only with a clock set absurdly far ahead; the deadline is then `now` and the
/// session ends at once: failing closed rather than panicking in a request.
fn after(now: SystemTime, span: Duration) -> SystemTime {
    now.checked_add(span).unwrap_or(now)
}

/// Attributes of the session cookie.
///
/// The default is the strictest that works for an ordinary site: `__Host-session`, `HttpOnly`
/// (scripts cannot read it), `Secure` (never sent over plain HTTP; browsers treat
/// `http://localhost` as secure), `SameSite=Lax` (not sent on cross-site subrequests or posts),
/// `Path=/`, no `Domain` (the `__Host-` prefix makes browsers enforce that the cookie belongs to
/// this exact host), and no `Max-Age`, so it ends with the browser session.
#[derive(Clone, Debug)]
pub struct CookieConfig {
    name: String,
    same_site: SameSite,
    persistent: bool,
    secure: bool,
    domain: Option<String>,
    path: String,
    /// Everything after the value in a non-persistent `Set-Cookie`, made on first use.
    suffix: OnceLock<String>,
    /// Finds `name` in a `Cookie` header; built once, as building costs more than a search.
    name_finder: Finder<'static>,
}

/// The cookie's default name: `__Host-` makes browsers require Secure, `Path=/` and no
/// `Domain`.
const DEFAULT_NAME: &str = "__Host-session";

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_NAME.to_owned(),
            same_site: SameSite::Lax,
            persistent: false,
            secure: true,
            domain: None,
            path: "/".to_owned(),
            suffix: OnceLock::new(),
            name_finder: Finder::new(DEFAULT_NAME).into_owned(),
        }
    }
}

impl CookieConfig {
    /// Uses `name` for the cookie.
    ///
    /// # Panics
    /// If `name` is not a valid cookie name (empty, or with separators, spaces or controls).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)),
            "invalid cookie name {name:?}"
        );
        self.name_finder = Finder::new(&name).into_owned();
        self.name = name;
        self.suffix = OnceLock::new();
        self
    }

    /// Sets the `SameSite` attribute (default `Lax`). `Strict` also withholds the cookie on
    /// top-level navigation from other sites; `None` requires `Secure`.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self.suffix = OnceLock::new();
        self
    }

    /// Makes the cookie outlive the browser session: it gets a `Max-Age` equal to the time
    /// left until the session's absolute deadline, never more.
    pub fn persistent(mut self, persistent: bool) -> Self {
        self.persistent = persistent;
        self.suffix = OnceLock::new();
        self
    }

    /// Drops the `Secure` attribute, for development over plain HTTP on a host other than
    /// localhost. The cookie name must then not start with `__Host-` or `__Secure-`, which
    /// browsers reject without `Secure`; the layer checks this when it is built.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self.suffix = OnceLock::new();
        self
    }

    /// Sets the `Domain` attribute, so the cookie is also sent to the subdomains of `domain`.
    /// Not allowed with a `__Host-` name (the default): rename the cookie first. The layer
    /// checks this when it is built.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self.suffix = OnceLock::new();
        self
    }

    /// Sets the `Path` attribute (default `/`), so the cookie is only sent under `path`. A
    /// `__Host-` name requires `/`; the layer checks this when it is built.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self.suffix = OnceLock::new();
        self
    }

    /// Checks the attributes against each other and the browsers' rules for cookie prefixes
    /// (RFC 6265bis): what [`SessionLayer::try_cookie`](crate::SessionLayer::try_cookie)
    /// checks.
    ///
    /// # Errors
    /// The first rule broken, as a [`CookieConfigError`](crate::CookieConfigError).
    pub fn check(&self) -> Result<(), crate::CookieConfigError> {
        crate::cookie_check::check(&crate::cookie_check::Attributes {
            name: &self.name,
            secure: self.secure,
            same_site: self.same_site,
            domain: self.domain.as_deref(),
            path: &self.path,
        })
    }

    /// Whether the cookie outlives the browser session, unless a session's
    /// [`TimeoutPolicy`](crate::TimeoutPolicy) chose otherwise.
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// Finds the cookie's name in a `Cookie` header.
    pub(crate) fn name_finder(&self) -> &Finder<'static> {
        &self.name_finder
    }

    /// `Set-Cookie` value carrying `token`: a persistent cookie with `Max-Age` when `max_age`
    /// is given, else one that ends with the browser session.
    pub(crate) fn set_cookie(
        &self,
        token: &SessionToken,
        max_age: Option<Duration>,
    ) -> HeaderValue {
        if let Some(max_age) = max_age {
            let text = token.to_text();
            let mut cookie = self.base(&text);
            set_max_age(&mut cookie, max_age);
            return header_value(&cookie);
        }
        // The common case: the cookie crate's serialization with a placeholder value, made once,
        // with the token written into the middle. Saves formatting every attribute per login.
        let suffix = self.suffix.get_or_init(|| {
            let line = self.base("x").to_string();
            line[self.name.len() + 2..].to_owned()
        });
        let mut line = String::with_capacity(self.name.len() + 1 + 43 + suffix.len());
        line.push_str(&self.name);
        line.push('=');
        token.write_text(&mut line);
        line.push_str(suffix);
        HeaderValue::try_from(line).expect("a session cookie is always a valid header value")
    }

    /// `Set-Cookie` value carrying a session cookie's JWT, persistent as in
    /// [`set_cookie`](Self::set_cookie).
    #[cfg(feature = "jwt")]
    pub(crate) fn set_jwt_cookie(&self, jwt: &str, max_age: Option<Duration>) -> HeaderValue {
        let mut cookie = self.base(jwt);
        if let Some(max_age) = max_age {
            set_max_age(&mut cookie, max_age);
        }
        header_value(&cookie)
    }

    /// `Set-Cookie` value that removes the cookie (`Max-Age=0` and an expiry in the past).
    pub(crate) fn clear_cookie(&self) -> HeaderValue {
        let mut cookie = self.base("");
        cookie.make_removal();
        header_value(&cookie)
    }

    fn base<'a>(&'a self, value: &'a str) -> Cookie<'a> {
        let mut cookie = Cookie::new(self.name.as_str(), value);
        cookie.set_http_only(true);
        cookie.set_secure(self.secure);
        cookie.set_same_site(self.same_site);
        cookie.set_path(self.path.as_str());
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.as_str());
        }
        cookie
    }
}

/// Makes `cookie` persistent for `max_age`, never past the 400 days browsers keep a cookie.
fn set_max_age(cookie: &mut Cookie<'_>, max_age: Duration) {
    let max_age = max_age.min(crate::cookie_check::MAX_COOKIE_AGE);
    cookie.set_max_age(time::Duration::seconds(
        i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
    ));
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // The name is validated, the value is base64url and the attributes are fixed ASCII.
    HeaderValue::try_from(cookie.to_string())
        .expect("a session cookie is always a valid header value")
}
