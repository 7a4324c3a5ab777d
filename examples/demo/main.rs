//! The sessionward demo: a small app whose HTTP routes show every feature built so far.
//!
//! ```text
//! cargo run --release --example demo        # http://127.0.0.1:3000
//! ```
//!
//! Environment: `PORT` (3000), `SESSIONWARD_STORE` (`memory`; or `sqlite:PATH`,
//! `postgres://…`, `mysql://…`, `redis://…`, `redis-cluster://HOST:PORT,…`: see [`open_store`]),
//! `SESSIONWARD_IDLE_TIMEOUT` and `SESSIONWARD_ABSOLUTE_TIMEOUT` (seconds; 1800 and 28800).
//! Users: `alice` / `wonderland`, `bob` / `builder`, `admin` / `admin-demo`.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sessionward::store::{spawn_cleanup, SessionStore};
use sessionward::{Authenticated, Session, SessionError, SessionLayer};

mod store_setting;

pub use store_setting::open_store;

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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port: u16 = env_or("PORT", 3000);
    let idle = Duration::from_secs(env_or("SESSIONWARD_IDLE_TIMEOUT", 1800));
    let absolute = Duration::from_secs(env_or("SESSIONWARD_ABSOLUTE_TIMEOUT", 28800));
    let spec = std::env::var("SESSIONWARD_STORE").unwrap_or_else(|_| "memory".to_owned());
    let store = match open_store(&spec).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("SESSIONWARD_STORE={spec:?}: {err}");
            std::process::exit(2);
        }
    };
    spawn_cleanup(store.clone(), Duration::from_secs(60));
    let layer = session_layer(store)
        .idle_timeout(idle)
        .absolute_timeout(absolute);
    let app = app().layer(layer);

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|err| panic!("cannot listen on {addr}: {err}"));
    tracing::info!("sessionward demo listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .expect("server error");
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

/// The demo's session layer over `store`, with its data limits (the tests use it too).
pub fn session_layer<S: SessionStore>(store: S) -> SessionLayer<S> {
    SessionLayer::new(store)
        .max_data_keys(MAX_PREFS)
        .max_data_bytes(MAX_SESSION_BYTES)
}

/// The demo's routes, without the session layer (the tests add one).
pub fn app() -> Router {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/prefs", get(get_prefs).put(put_prefs))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/api/me", get(me))
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
}

fn check(creds: &Credentials) -> bool {
    USERS.iter().any(|(u, p)| {
        *u == creds.username && constant_time_eq(p.as_bytes(), creds.password.as_bytes())
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request body is an HTML form (then answers are redirects).
fn is_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

async fn login(session: Session, req: Request) -> Response {
    let form = is_form(&req);
    let creds = if form {
        Form::<Credentials>::from_request(req, &())
            .await
            .map(|Form(c)| c)
            .map_err(|_| ())
    } else {
        Json::<Credentials>::from_request(req, &())
            .await
            .map(|Json(c)| c)
            .map_err(|_| ())
    };
    let Ok(creds) = creds else {
        return error(StatusCode::BAD_REQUEST, "invalid_body");
    };
    if !check(&creds) {
        tracing::info!(user = %creds.username, "login failed");
        return error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    if let Err(err) = session.login(&creds.username).await {
        return err.into_response();
    }
    if form {
        return Redirect::to("/").into_response();
    }
    match session.id().await {
        Ok(id) => Json(json!({ "user": creds.username, "session_id": id })).into_response(),
        Err(err) => err.into_response(),
    }
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
        return Ok(error(StatusCode::UNAUTHORIZED, "unauthenticated"));
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
        for (key, raw) in record.data.iter() {
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

async fn home(session: Session) -> Result<Html<String>, SessionError> {
    let record = session.record().await?;
    let body = match record
        .as_ref()
        .and_then(|r| r.user.as_deref().map(|u| (r, u)))
    {
        Some((record, user)) => format!(
            r#"<p>Signed in as <strong>{user}</strong>.</p>
<table>
<tr><th>Session</th><td><code>{id}</code></td></tr>
<tr><th>Created</th><td>{created}</td></tr>
<tr><th>Idle expiry</th><td>{idle}</td></tr>
<tr><th>Absolute expiry</th><td>{abs}</td></tr>
</table>
<form method="post" action="/logout"><button type="submit">Log out</button></form>"#,
            user = escape(user),
            id = record.id,
            created = rfc3339(record.created_at),
            idle = rfc3339(record.idle_expires_at),
            abs = rfc3339(record.expires_at),
        ),
        None => r#"<form method="post" action="/login">
<label>User <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Log in</button>
</form>
<p>Demo users: alice / wonderland, bob / builder, admin / admin-demo.</p>"#
            .to_owned(),
    };
    Ok(Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sessionward demo</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}}th{{text-align:left;padding-right:1rem}}label{{display:block;margin:.5rem 0}}</style>
</head><body><h1>sessionward demo</h1>
{body}
</body></html>"#
    )))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
