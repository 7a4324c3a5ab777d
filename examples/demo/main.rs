//! The sessionward demo: a small app whose HTTP routes show every feature built so far. Its
//! HTTP contract (every route, body, status code, header and setting) is in
//! `docs/demo-http.md`.
//!
//! ```text
//! cargo run --release --example demo        # http://127.0.0.1:3000, sessions in memory
//! SESSIONWARD_STORE=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run --release --example demo --features postgres
//! ```
//!
//! A store other than memory needs its cargo feature: `--features sqlite`, `postgres`, `mysql`
//! or `redis` (for `redis://…` and `redis-cluster://…`), or `--features all-stores` for all.
//!
//! Environment: `PORT` (3000; 0 picks a free port, which the "listening" line names),
//! `SESSIONWARD_STORE` (`memory`; or `sqlite:PATH`, `postgres://…`, `mysql://…`, `redis://…`,
//! `redis-cluster://HOST:PORT,…`: see [`open_store`]), `SESSIONWARD_IDLE_TIMEOUT` and
//! `SESSIONWARD_ABSOLUTE_TIMEOUT` (seconds; 1800 and 28800), `SESSIONWARD_ADMIN_IDLE_TIMEOUT`
//! and `SESSIONWARD_ADMIN_ABSOLUTE_TIMEOUT` (seconds, for the admin; 900 and 3600),
//! `SESSIONWARD_REMEMBER_TIMEOUT` (seconds, idle and absolute, for a login with "remember me";
//! 604800), `SESSIONWARD_MAX_SESSIONS` and `SESSIONWARD_SESSION_OVERFLOW` (sessions per user,
//! and `evict` or `reject` beyond it; unlimited, evict), `SESSIONWARD_MAX_TOTAL_SESSIONS`
//! (signed-in sessions in the whole store; unlimited), `SESSIONWARD_RETENTION` (seconds an
//! ended session stays listable by admins, with its end reason; 86400, 0 for off),
//! `SESSIONWARD_REMOTE_SECRET` (at least
//! 16 bytes: enables the `/remote` routes for other servers; unset, they do not exist),
//! `SESSIONWARD_NEAR_CACHE` (milliseconds: the staleness bound of the Redis store's near
//! cache; unset or 0: no near cache),
//! `SESSIONWARD_TRUSTED_PROXIES`
//! (comma-separated IPs or CIDRs whose `Forwarded` / `X-Forwarded-For` is believed; none by
//! default), `SESSIONWARD_AUDIT_LOG` (a file the audit trail is appended to as JSON lines;
//! unset: audit events are log lines), `SESSIONWARD_JWT_KEYS` (`kid=secret,…`, each secret at
//! least 32 bytes: the first signs access tokens, all verify), `SESSIONWARD_JWT_SECRET` (one
//! shared HS256 secret; unset with no key list: a random one, with a warning),
//! `SESSIONWARD_ACCESS_TTL` (seconds an access token lives; 300), `SESSIONWARD_BEARER_MODE`
//! (`stateful` or `stateless`; stateful), `RUST_LOG` (`info`). Logs go to
//! stdout, in colour only on a terminal and without `NO_COLOR`. SIGTERM or Ctrl-C stops the
//! demo once the requests in flight are answered.
//! Users: `alice` / `wonderland`, `bob` / `builder`, `admin` / `admin-demo`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sessionward::csrf::{CrossOriginLayer, CsrfToken, CsrfTokenLayer};
use sessionward::store::{spawn_cleanup, SessionStore};
use sessionward::{
    AuthRejection, Authenticated, Presented, Session, SessionError, SessionLayer, TrustedProxies,
};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

mod admin;
pub mod audit;
mod bearer;
mod devices;
mod pages;
mod session_limits;
mod shutdown;
mod store_setting;
mod timeouts;

pub use admin::with_admin;
use pages::LoginFailure;
pub use store_setting::open_store;

/// How long the demo keeps ended sessions for admins to list, unless `SESSIONWARD_RETENTION`
/// says otherwise: a day.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(86_400);

const USERS: &[(&str, &str)] = &[
    ("alice", "wonderland"),
    ("bob", "builder"),
    ("admin", "admin-demo"),
];
/// Keys one session may keep in its preferences, the size of one value, and of all of a
/// session's data: the demo stores whatever clients send, so it bounds it. The per-session
/// bounds are the layer's data limits (413 `{"error":"session_data_too_large"}`).
const MAX_PREFS: usize = 32;
const MAX_PREF_BYTES: usize = 1024;
const MAX_SESSION_BYTES: usize = 16 * 1024;

#[tokio::main]
async fn main() {
    // Colour codes are for a person at a terminal; in a file, a pipe or a log collector they
    // are noise. `with_ansi(true)` would override `NO_COLOR` (https://no-color.org), so it is
    // checked here too.
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    // `RUST_LOG` as a list of `target=level` (or a bare level): tracing-subscriber's `Targets`,
    // which needs no regular-expression engine (`EnvFilter` would add four crates to the build).
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_ansi(colour))
        .with(filter)
        .init();
    let port: u16 = env_or("PORT", 3000);
    let idle = timeout_or("SESSIONWARD_IDLE_TIMEOUT", 1800);
    let absolute = timeout_or("SESSIONWARD_ABSOLUTE_TIMEOUT", 28800);
    let spec = std::env::var("SESSIONWARD_STORE").unwrap_or_else(|_| "memory".to_owned());
    let retention =
        Duration::from_secs(env_or("SESSIONWARD_RETENTION", DEFAULT_RETENTION.as_secs()));
    let store = match open_store(&spec, retention).await {
        Ok(store) => store,
        Err(err) => {
            // Not the value itself: a database URL may carry a password.
            eprintln!("SESSIONWARD_STORE: {err}");
            std::process::exit(2);
        }
    };
    let proxies = std::env::var("SESSIONWARD_TRUSTED_PROXIES").unwrap_or_default();
    let proxies: TrustedProxies = proxies.parse().unwrap_or_else(|err| {
        eprintln!("SESSIONWARD_TRUSTED_PROXIES={proxies:?}: {err}");
        std::process::exit(2);
    });
    spawn_cleanup(store.clone(), Duration::from_secs(60));
    let layer = bearer::from_env(session_limits::from_env(session_layer(store.clone())))
        .idle_timeout(idle)
        .absolute_timeout(absolute)
        .timeout_policy(timeouts::DemoPolicy::from_env())
        .trusted_proxies(proxies);
    let trail = audit::Trail::from_env();
    let layer = layer.audit_through(trail.handle.clone());
    let remote_secret = std::env::var("SESSIONWARD_REMOTE_SECRET").ok();
    // Told when the shutdown starts, to end the admin's open event streams.
    let (shutting_down, mut shutdown_seen) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        let _ = shutdown_seen.wait_for(|started| *started).await;
    };
    let app = with_admin(app(), store, remote_secret.as_deref(), &trail, shutdown);
    let app = app.unwrap_or_else(|err| {
        eprintln!("SESSIONWARD_REMOTE_SECRET: {err}");
        std::process::exit(2);
    });
    // Outermost: a refused cross-site request never reaches a session or a handler.
    let app = app
        .layer(layer)
        .layer(CrossOriginLayer::new().audit_through(trail.handle.clone()));

    let mut stop = shutdown::Stop::listen();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {addr}: {err}");
            std::process::exit(2);
        }
    };
    // The bound address, so that `PORT=0` names the port it got.
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!("sessionward demo listening on http://{addr}");
    let stopping = async move {
        let signal = stop.next().await;
        tracing::info!("shutting down ({signal})");
        let _ = shutting_down.send(true);
        tokio::spawn(async move {
            let signal = stop.next().await;
            tracing::warn!("{signal} again: stopping without waiting for requests in flight");
            std::process::exit(1);
        });
    };
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopping)
    .await
    .expect("server error");
    // The audit events of the last requests reach their file before the demo exits.
    trail.handle.flush().await;
    tracing::info!("stopped");
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Err(_) => default,
        Ok(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("{name}={text:?} is not valid");
            std::process::exit(2);
        }),
    }
}

/// A timeout in whole seconds from `name`: a session layer refuses a zero one.
fn timeout_or(name: &str, default: u64) -> Duration {
    match env_or(name, default) {
        0 => {
            eprintln!("{name}=0 is not valid: a timeout is at least 1 second");
            std::process::exit(2);
        }
        secs => Duration::from_secs(secs),
    }
}

/// The demo's session layer over `store`, with its data limits and its timeout policy at the
/// default settings, and the cookie token `SESSIONWARD_COOKIE_TOKEN` picks (the tests use it
/// too).
pub fn session_layer<S: SessionStore>(store: S) -> SessionLayer<S> {
    let layer = SessionLayer::new(store)
        .max_data_keys(MAX_PREFS)
        .max_data_bytes(MAX_SESSION_BYTES)
        .timeout_policy(timeouts::DemoPolicy::default());
    bearer::with_cookie_token(layer)
}

/// The demo's routes, without the admin routes (see [`admin::with_admin`]) and the session
/// layer (the tests add them).
pub fn app() -> Router {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/prefs", get(get_prefs).put(put_prefs))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/api/token", post(bearer::token))
        .route("/api/token/refresh", post(bearer::refresh))
        .route("/api/me", get(me))
        .route("/api/sessions", get(devices::list))
        .route("/api/sessions/{id}", delete(devices::revoke))
        .route("/api/sessions/revoke-others", post(devices::revoke_others))
        // The page's revoke buttons carry a CSRF token, checked for browsers that send no
        // Fetch Metadata (the cross-origin layer around the app refuses the others' forgeries).
        .route(
            "/sessions/{id}/revoke",
            post(devices::revoke_form).layer(CsrfTokenLayer::new().trust_fetch_metadata()),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        })
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
    /// "Remember me": the remember-me timeouts and a persistent cookie.
    #[serde(default)]
    remember: bool,
}

/// A login form's fields. Both are optional so that a form lacking one is still read and shown
/// again with what was typed; it is refused as malformed all the same.
#[derive(Deserialize)]
struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    /// A checked "remember me" box sends `remember=on`; an unchecked one sends nothing.
    remember: Option<String>,
}

fn check(creds: &Credentials) -> bool {
    USERS.iter().any(|(u, p)| {
        *u == creds.username && constant_time_eq(p.as_bytes(), creds.password.as_bytes())
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request body is an HTML form (then answers are redirects and HTML pages). The
/// same test as axum's `Form` extractor, so a body judged a form is read as one.
fn is_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

/// `POST /login`, with a JSON body or an HTML form. Errors answer in kind: JSON
/// `{"error": …}` for JSON, the login page again for a form.
async fn login(session: Session, req: Request) -> Response {
    if is_form(&req) {
        let fields = Form::<LoginForm>::from_request(req, &())
            .await
            .map(|Form(fields)| fields);
        match fields {
            Ok(LoginForm {
                username: Some(username),
                password: Some(password),
                remember,
            }) => {
                let remember = remember.is_some();
                let creds = Credentials {
                    username,
                    password,
                    remember,
                };
                sign_in(&session, creds, true).await
            }
            Ok(fields) => pages::login_failed(
                LoginFailure::InvalidBody,
                fields.username.as_deref().unwrap_or_default(),
            ),
            Err(_) => pages::login_failed(LoginFailure::InvalidBody, ""),
        }
    } else {
        match Json::<Credentials>::from_request(req, &()).await {
            Ok(Json(creds)) => sign_in(&session, creds, false).await,
            Err(_) => error(StatusCode::BAD_REQUEST, "invalid_body"),
        }
    }
}

async fn sign_in(session: &Session, creds: Credentials, form: bool) -> Response {
    if !check(&creds) {
        // Debug-quoted: a name with a line break cannot forge a log line.
        tracing::info!(user = ?creds.username, "login failed");
        session
            .login_failed(&creds.username, "invalid_credentials")
            .await;
        return if form {
            pages::login_failed(LoginFailure::InvalidCredentials, &creds.username)
        } else {
            error(StatusCode::UNAUTHORIZED, "invalid_credentials")
        };
    }
    let login = timeouts::login_of(&creds.username, creds.remember);
    match session.login(login).await {
        Ok(()) => {}
        Err(SessionError::SessionLimit(_)) if form => {
            return pages::login_failed(LoginFailure::SessionLimit, &creds.username);
        }
        Err(err) => return err.into_response(),
    }
    // A bearer client gets no cookie, and login has just killed the token it sent: the new
    // one must be in the body, whatever the request's body was (a redirect would lose it).
    let bearer = session.presented() == Presented::Bearer;
    if form && !bearer {
        return Redirect::to("/").into_response();
    }
    let id = match session.id().await {
        Ok(id) => id,
        Err(err) => return err.into_response(),
    };
    let mut body = json!({ "user": creds.username, "session_id": id });
    if bearer {
        if let Some(token) = session.issued_token().await {
            body["token"] = Value::String(token);
        }
    }
    Json(body).into_response()
}

async fn logout(session: Session, req: Request) -> Response {
    if let Err(err) = session.logout().await {
        return err.into_response();
    }
    if is_form(&req) {
        Redirect::to("/").into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn me(user: Authenticated) -> Result<Response, SessionError> {
    let Some(record) = user.session().record().await? else {
        // `Authenticated` has just found a signed-in session and nothing here ends it; should
        // it be gone all the same, the answer is the extractor's own 401, challenge included
        // (the demo's layer accepts bearer tokens).
        return Ok(AuthRejection::Unauthenticated {
            presented: user.session().presented(),
            bearer_accepted: true,
        }
        .into_response());
    };
    Ok(Json(json!({
        "user": user.user(),
        "session_id": record.id,
        "created_at": rfc3339(record.created_at),
        "last_seen_at": rfc3339(record.last_seen_at),
        "expires_at": rfc3339(record.expires_at),
        "idle_expires_at": rfc3339(record.idle_expires_at),
    }))
    .into_response())
}

async fn get_prefs(session: Session) -> Result<Json<Map<String, Value>>, SessionError> {
    let mut prefs = Map::new();
    if let Some(record) = session.record().await? {
        // Keys starting with `sessionward.` are the crate's own (a bearer session's refresh
        // history), not preferences.
        for (key, raw) in record
            .data
            .iter()
            .filter(|(k, _)| !k.starts_with("sessionward."))
        {
            prefs.insert(key.to_owned(), serde_json::from_str(raw.get())?);
        }
    }
    Ok(Json(prefs))
}

async fn put_prefs(session: Session, req: Request) -> Response {
    let Ok(Json(body)) = Json::<Map<String, Value>>::from_request(req, &()).await else {
        return error(StatusCode::BAD_REQUEST, "invalid_body");
    };
    if body.len() > MAX_PREFS
        || body
            .iter()
            .any(|(k, v)| k.len() > 64 || v.to_string().len() > MAX_PREF_BYTES)
    {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    }
    // All keys or none: past the session's limits nothing is stored.
    match session.insert_all(&body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => err.into_response(),
    }
}

async fn home(session: Session) -> Result<Response, SessionError> {
    let devices = session.list_mine().await?;
    let record = session.record().await?;
    // Only a signed-in page has forms that need a token: an anonymous visit starts no session.
    let token = match record.as_ref().and_then(|r| r.user.as_ref()) {
        Some(_) => Some(CsrfToken::for_session(&session).await?),
        None => None,
    };
    Ok(pages::home(record.as_ref(), &devices, token.as_ref()))
}
