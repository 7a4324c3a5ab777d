//! Adaptive timeouts over real HTTP: a timeout policy picks each session's timeouts at login
//! from the user's role and a "remember me" choice; the choice is stored with the session, so
//! another instance on the same store (without the policy) applies the same deadlines and
//! renews with the same idle timeout; the cookie is persistent exactly when the policy says so.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query};
use axum::routing::post;
use axum::Router;
use common::{routes, serve, session_set_cookie, set_cookie, Server, WithSession};
use serde::Deserialize;
use sessionward::store::{MemoryStore, SessionPatch, SessionStore};
use sessionward::token::SessionToken;
use sessionward::{Login, Session, SessionError, SessionLayer, Timeouts};

const ADMIN_IDLE: Duration = Duration::from_secs(15 * 60);
const ADMIN_ABSOLUTE: Duration = Duration::from_secs(3600);
const REMEMBER: Duration = Duration::from_secs(7 * 24 * 3600);
const LAYER_IDLE: Duration = Duration::from_secs(30 * 60);
const LAYER_ABSOLUTE: Duration = Duration::from_secs(8 * 3600);

#[derive(Deserialize)]
struct How {
    role: Option<String>,
    remember: Option<bool>,
}

/// Signs `user` in with the role and "remember me" of the query string.
async fn login(
    session: Session,
    Path(user): Path<String>,
    Query(how): Query<How>,
) -> Result<String, SessionError> {
    let mut login = Login::new(user).remember_me(how.remember.unwrap_or(false));
    if let Some(role) = how.role {
        login = login.role(role);
    }
    session.login(login).await?;
    Ok(session.issued_token().await.unwrap_or_default())
}

fn app() -> Router {
    routes::app().route("/sign-in/{user}", post(login))
}

/// The demo's policy: short timeouts for admins, a week and a persistent cookie for "remember
/// me", the layer's otherwise.
fn with_policy(store: MemoryStore) -> SessionLayer<MemoryStore> {
    SessionLayer::new(store).timeout_policy(|login: &Login, layer: Timeouts| {
        if login.has_role("admin") {
            Timeouts::new(ADMIN_IDLE, ADMIN_ABSOLUTE)
        } else if login.remembers_me() {
            Timeouts::new(REMEMBER, REMEMBER).persistent(true)
        } else {
            layer
        }
    })
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The session's record times (ms since the epoch), as `/describe` reports them.
async fn describe(server: &Server, token: &str) -> serde_json::Value {
    let res = server.get("/describe").session(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// `field - base` in whole seconds, for deadlines measured from a login or a renewal.
fn seconds_after(described: &serde_json::Value, field: &str, base: &str) -> u64 {
    let at = described[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field}"));
    let from = described[base].as_u64().unwrap_or_else(|| panic!("{base}"));
    (at - from + 500) / 1000
}

/// Signs in and returns the token and the whole `Set-Cookie` line.
async fn sign_in(server: &Server, path: &str) -> (String, String) {
    let res = server.post(path).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let line = session_set_cookie(res.headers()).expect("login sets the cookie");
    (set_cookie(res.headers()).unwrap(), line)
}

fn max_age(line: &str) -> Option<u64> {
    line.split(';')
        .map(str::trim)
        .find_map(|attr| attr.strip_prefix("Max-Age="))
        .map(|v| v.parse().unwrap())
}

/// Moves the session's last recorded activity `ago` into the past, as if its last request had
/// come then, so the next request renews it (without sleeping through the renewal interval).
async fn age(store: &MemoryStore, token: &str, ago: Duration) {
    let key = SessionToken::parse(token.as_bytes()).unwrap().hash();
    let patch = SessionPatch {
        last_seen_at: Some(SystemTime::now() - ago),
        ..SessionPatch::default()
    };
    assert!(store.update(&key, &patch).await.unwrap(), "session stored");
}

#[tokio::test]
async fn an_admin_gets_the_policys_short_timeouts_and_a_browser_session_cookie() {
    let server = serve(app().layer(with_policy(MemoryStore::default()))).await;
    let (token, line) = sign_in(&server, "/sign-in/root?role=admin").await;
    assert_eq!(max_age(&line), None, "{line}");
    let d = describe(&server, &token).await;
    assert_eq!(
        seconds_after(&d, "record_expires_at", "created_at"),
        ADMIN_ABSOLUTE.as_secs()
    );
    assert_eq!(
        seconds_after(&d, "record_idle_expires_at", "record_last_seen_at"),
        ADMIN_IDLE.as_secs()
    );
}

#[tokio::test]
async fn remember_me_gets_a_persistent_cookie_until_the_absolute_deadline() {
    let server = serve(app().layer(with_policy(MemoryStore::default()))).await;
    let (token, line) = sign_in(&server, "/sign-in/alice?remember=true").await;
    let age = max_age(&line).expect("a persistent cookie");
    assert!(
        (REMEMBER.as_secs() - 2..=REMEMBER.as_secs()).contains(&age),
        "Max-Age {age} is the time left until the absolute deadline"
    );
    let d = describe(&server, &token).await;
    assert_eq!(
        seconds_after(&d, "record_expires_at", "created_at"),
        REMEMBER.as_secs()
    );

    // A rotation (a privilege change) keeps the cookie persistent.
    let res = server.post("/rotate").session(&token).send().await.unwrap();
    let line = session_set_cookie(res.headers()).expect("rotation sets the cookie");
    assert!(max_age(&line).is_some(), "still persistent: {line}");
}

#[tokio::test]
async fn an_ordinary_login_keeps_the_layers_timeouts_and_a_browser_session_cookie() {
    let server = serve(app().layer(with_policy(MemoryStore::default()))).await;
    let (token, line) = sign_in(&server, "/sign-in/bob").await;
    assert_eq!(max_age(&line), None, "{line}");
    let d = describe(&server, &token).await;
    assert_eq!(
        seconds_after(&d, "record_expires_at", "created_at"),
        LAYER_ABSOLUTE.as_secs()
    );
    assert_eq!(
        seconds_after(&d, "record_idle_expires_at", "record_last_seen_at"),
        LAYER_IDLE.as_secs()
    );
}

#[tokio::test]
async fn without_a_policy_remember_me_makes_the_cookie_persistent_on_the_layers_timeouts() {
    let server = serve(app().layer(SessionLayer::new(MemoryStore::default()))).await;
    let (token, line) = sign_in(&server, "/sign-in/alice?remember=true").await;
    let age = max_age(&line).expect("a persistent cookie");
    assert!(LAYER_ABSOLUTE.as_secs() - age <= 2, "Max-Age {age}");
    let d = describe(&server, &token).await;
    assert_eq!(
        seconds_after(&d, "record_expires_at", "created_at"),
        LAYER_ABSOLUTE.as_secs()
    );
}

#[tokio::test]
async fn another_instance_without_the_policy_renews_with_the_stored_idle_timeout() {
    let store = MemoryStore::default();
    let a = serve(app().layer(with_policy(store.clone()))).await;
    let b = serve(app().layer(SessionLayer::new(store.clone()))).await;
    let (token, _) = sign_in(&a, "/sign-in/root?role=admin").await;

    age(&store, &token, Duration::from_secs(120)).await;
    // This request renews the session (its write shows in the next one).
    let res = b.get("/me").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let d = describe(&b, &token).await;
    assert_eq!(
        seconds_after(&d, "record_idle_expires_at", "record_last_seen_at"),
        ADMIN_IDLE.as_secs(),
        "instance B renewed with the admin's idle timeout, not its own 30 minutes"
    );
    assert_eq!(
        seconds_after(&d, "record_expires_at", "created_at"),
        ADMIN_ABSOLUTE.as_secs(),
        "renewal never moves the absolute deadline"
    );
    let last_seen = d["record_last_seen_at"].as_u64().unwrap();
    assert!(
        ms(SystemTime::now()) - last_seen < 60_000,
        "the renewal was written"
    );
}

#[tokio::test]
async fn a_later_ordinary_login_on_the_same_session_returns_to_the_layers_timeouts() {
    let server = serve(app().layer(with_policy(MemoryStore::default()))).await;
    let (token, _) = sign_in(&server, "/sign-in/root?role=admin").await;
    let res = server
        .post("/sign-in/bob")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token = set_cookie(res.headers()).unwrap();
    let d = describe(&server, &token).await;
    assert_eq!(d["user"], "bob");
    assert_eq!(
        seconds_after(&d, "record_idle_expires_at", "record_last_seen_at"),
        LAYER_IDLE.as_secs()
    );
    assert_eq!(
        seconds_after(&d, "record_expires_at", "created_at"),
        LAYER_ABSOLUTE.as_secs()
    );
}

#[tokio::test]
async fn a_policy_asking_for_zero_timeouts_gets_one_second_not_a_panic() {
    let layer = SessionLayer::new(MemoryStore::default())
        .timeout_policy(|_: &Login, _: Timeouts| Timeouts::new(Duration::ZERO, Duration::ZERO));
    let server = serve(app().layer(layer)).await;
    let (token, _) = sign_in(&server, "/sign-in/alice").await;
    let key_expiry = describe(&server, &token).await;
    // The session may already have ended by the time this request runs (one second): both
    // answers prove the clamp, a panic or a 500 would not.
    if !key_expiry["user"].is_null() {
        assert_eq!(
            seconds_after(&key_expiry, "record_expires_at", "created_at"),
            1
        );
    }
}

#[test]
fn timeouts_are_kept_within_bounds() {
    let t = Timeouts::new(Duration::ZERO, Duration::MAX);
    assert_eq!(t.idle(), Timeouts::MIN);
    assert_eq!(t.absolute(), sessionward::SessionConfig::MAX_TIMEOUT);
    assert!(!t.is_persistent());
    assert!(t.persistent(true).is_persistent());
}
