//! Shared test helpers: serve an app on a loopback port, send requests, read cookies.
#![allow(dead_code)] // each test file uses a different subset
pub mod faults;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use reqwest::header::{HeaderMap, HeaderValue};
use sessionward::store::{MemoryStore, SessionPatch, SessionQuery, SessionRecord, SessionStore};
use sessionward::token::{SessionId, TokenHash};
use sessionward::StoreError;

pub mod audit;
pub mod describe;
pub mod gate;
pub mod wait;

pub const COOKIE: &str = "__Host-session";

/// A running server; dropped with the test's runtime.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
}

pub async fn serve(app: Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.put(self.url(path))
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path))
    }

    /// Signs in the demo's user alice (for a server running `examples/demo.rs`'s app) and
    /// returns her session token.
    pub async fn demo_login(&self) -> String {
        let res = self
            .post("/login")
            .json(&serde_json::json!({"username": "alice", "password": "wonderland"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "demo login");
        set_cookie(res.headers()).expect("login sets the session cookie")
    }

    /// Signs a demo user in from a device that sends `agent` as its `User-Agent`; returns the
    /// session token and the public session id.
    pub async fn demo_login_from(
        &self,
        user: &str,
        password: &str,
        agent: &str,
    ) -> (String, String) {
        let res = self
            .post("/login")
            .header("user-agent", agent)
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "demo login of {user}");
        let token = set_cookie(res.headers()).expect("login sets the session cookie");
        let body: serde_json::Value = res.json().await.unwrap();
        let id = body["session_id"]
            .as_str()
            .expect("a session id")
            .to_owned();
        (token, id)
    }
}

/// Adds the session cookie to a request.
pub trait WithSession {
    fn session(self, token: &str) -> Self;
}

impl WithSession for reqwest::RequestBuilder {
    fn session(self, token: &str) -> Self {
        self.header("cookie", format!("{COOKIE}={token}"))
    }
}

/// The session cookie a response sets: `Some(value)` (empty when cleared).
pub fn set_cookie(headers: &HeaderMap) -> Option<String> {
    session_set_cookie(headers)
        .map(|line| line.split(';').next().unwrap()[COOKIE.len() + 1..].to_owned())
}

/// The whole `Set-Cookie` line for the session cookie.
pub fn session_set_cookie(headers: &HeaderMap) -> Option<String> {
    let lines: Vec<String> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|line| line.starts_with(&format!("{COOKIE}=")))
        .collect();
    assert!(
        lines.len() <= 1,
        "one session Set-Cookie at most: {lines:?}"
    );
    lines.into_iter().next()
}

pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
}

/// A store wrapper that counts calls and can be switched off, to count store round trips per
/// request and to test how the layer treats a failing backend. It wraps a real store (the
/// memory store by default); only the failure is injected. By default it answers only through
/// the async methods; [`answering_at_once`](Self::answering_at_once) also passes the inner
/// store's `load_now`, `create_now` and `update_now` through, failing them the same way.
#[derive(Clone, Default)]
pub struct FlakyStore<S = MemoryStore> {
    pub inner: S,
    pub calls: Arc<AtomicUsize>,
    pub down: Arc<AtomicBool>,
    at_once: bool,
}

impl<S> FlakyStore<S> {
    pub fn wrap(inner: S) -> Self {
        Self {
            inner,
            calls: Arc::default(),
            down: Arc::default(),
            at_once: false,
        }
    }

    pub fn answering_at_once(mut self) -> Self {
        self.at_once = true;
        self
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn enter(&self) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::backend("store is down (test)"))
        } else {
            Ok(())
        }
    }
}

impl<S: SessionStore> SessionStore for FlakyStore<S> {
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>> {
        if !self.at_once {
            return None;
        }
        let found = self.inner.load_now(key)?;
        Some(self.enter().and(found))
    }
    fn create_now(
        &self,
        key: &TokenHash,
        record: SessionRecord,
    ) -> Result<Result<(), StoreError>, SessionRecord> {
        if !self.at_once {
            return Err(record);
        }
        match self.enter() {
            Ok(()) => self.inner.create_now(key, record),
            Err(err) => Ok(Err(err)),
        }
    }
    fn update_now(
        &self,
        key: &TokenHash,
        patch: &SessionPatch,
    ) -> Option<Result<bool, StoreError>> {
        if !self.at_once {
            return None;
        }
        Some(self.enter().and_then(|()| {
            self.inner
                .update_now(key, patch)
                .expect("the inner store answers at once")
        }))
    }
    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        self.enter()?;
        self.inner.create(key, record).await
    }
    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        self.enter()?;
        self.inner.load(key).await
    }
    async fn load_by_id(
        &self,
        id: &SessionId,
    ) -> Result<Option<(TokenHash, SessionRecord)>, StoreError> {
        self.enter()?;
        self.inner.load_by_id(id).await
    }
    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        self.enter()?;
        self.inner.update(key, patch).await
    }
    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        self.enter()?;
        self.inner.rotate(old, new, patch).await
    }
    async fn delete(&self, key: &TokenHash) -> Result<bool, StoreError> {
        self.enter()?;
        self.inner.delete(key).await
    }
    async fn delete_by_id(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.enter()?;
        self.inner.delete_by_id(id).await
    }
    async fn list_by_user(
        &self,
        user: &str,
        now: SystemTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.enter()?;
        self.inner.list_by_user(user, now).await
    }
    async fn count_by_user(&self, user: &str, now: SystemTime) -> Result<u64, StoreError> {
        self.enter()?;
        self.inner.count_by_user(user, now).await
    }
    async fn delete_by_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
    ) -> Result<u64, StoreError> {
        self.enter()?;
        self.inner.delete_by_user(user, except).await
    }
    async fn delete_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.enter()?;
        self.inner.delete_expired(now).await
    }
    async fn query(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        self.enter()?;
        self.inner.query(query).await
    }
}

/// The routes the behaviour tests drive.
pub mod routes {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use axum::{Extension, Router};
    use sessionward::{Authenticated, Session, SessionError};

    use super::gate::Gate;

    pub fn app() -> Router {
        Router::new()
            .route("/get/{key}", get(get_key))
            .route("/set/{key}/{value}", post(set_key))
            .route("/remove/{key}", post(remove_key))
            .route("/set-and-remove/{key}/{value}", post(set_and_remove))
            .route("/login/{user}", post(login))
            .route("/logout", post(logout))
            .route("/rotate", post(rotate))
            .route("/me", get(me))
            .route("/untouched", get(|| async { "untouched" }))
            .route("/describe", get(describe))
            // These pause at the test's `Gate` extension (a 500 without one).
            .route("/gated-set/{key}/{value}", post(gated_set))
            .route("/gated-login/{user}", post(gated_login))
            .route("/gated-rotate", post(gated_rotate))
    }

    async fn get_key(session: Session, Path(key): Path<String>) -> Result<String, SessionError> {
        Ok(session
            .get::<String>(&key)
            .await?
            .unwrap_or_else(|| "none".to_owned()))
    }

    async fn set_key(
        session: Session,
        Path((key, value)): Path<(String, String)>,
    ) -> Result<StatusCode, SessionError> {
        session.insert(&key, &value).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    async fn remove_key(session: Session, Path(key): Path<String>) -> Result<String, SessionError> {
        Ok(session
            .remove::<String>(&key)
            .await?
            .unwrap_or_else(|| "none".to_owned()))
    }

    /// Inserts `key` and removes it again, answering with what it removed: a request that
    /// leaves its session as empty as it found it.
    async fn set_and_remove(
        session: Session,
        Path((key, value)): Path<(String, String)>,
    ) -> Result<String, SessionError> {
        session.insert(&key, &value).await?;
        Ok(session
            .remove::<String>(&key)
            .await?
            .unwrap_or_else(|| "none".to_owned()))
    }

    /// Answers with the issued token, as a bearer login endpoint would.
    async fn login(session: Session, Path(user): Path<String>) -> Result<String, SessionError> {
        session.login(&user).await?;
        Ok(session.issued_token().await.expect("login issues a token"))
    }

    async fn logout(session: Session) -> Result<StatusCode, SessionError> {
        session.logout().await?;
        Ok(StatusCode::NO_CONTENT)
    }

    async fn rotate(session: Session) -> Result<String, SessionError> {
        session.rotate().await?;
        Ok(session.issued_token().await.unwrap_or_default())
    }

    async fn me(user: Authenticated) -> String {
        user.user().to_owned()
    }

    /// What the session's accessors say, as JSON (`null` without a session); times in ms since
    /// the Unix epoch. `expires_at` is the accessor (the earlier deadline); the `record_*`
    /// times are the record's own fields, as loaded at the start of this request (a renewal
    /// this request writes shows in the next one).
    async fn describe(session: Session) -> Result<axum::Json<serde_json::Value>, SessionError> {
        let ms = |t: Option<std::time::SystemTime>| {
            t.map(|t| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64)
        };
        let record = session.record().await?;
        Ok(axum::Json(serde_json::json!({
            "id": session.id().await?.map(|id| id.to_string()),
            "user": session.user().await?,
            "created_at": ms(session.created_at().await?),
            "expires_at": ms(session.expires_at().await?),
            "record_id": record.as_ref().map(|r| r.id.to_string()),
            "record_last_seen_at": ms(record.as_ref().map(|r| r.last_seen_at)),
            "record_idle_expires_at": ms(record.as_ref().map(|r| r.idle_expires_at)),
            "record_expires_at": ms(record.as_ref().map(|r| r.expires_at)),
            "record_user": record.and_then(|r| r.user),
        })))
    }

    /// Loads the session, pauses at the gate, then writes: an in-flight request racing a
    /// logout.
    async fn gated_set(
        Extension(gate): Extension<Gate>,
        session: Session,
        Path((key, value)): Path<(String, String)>,
    ) -> Result<StatusCode, SessionError> {
        let _ = session.get::<String>(&key).await?;
        gate.pause().await;
        session.insert(&key, &value).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    /// Loads the session, pauses at the gate, then signs `user` in: a login racing a logout.
    async fn gated_login(
        Extension(gate): Extension<Gate>,
        session: Session,
        Path(user): Path<String>,
    ) -> Result<String, SessionError> {
        let _ = session.id().await?;
        gate.pause().await;
        login(session, Path(user)).await
    }

    /// Loads the session, pauses at the gate, then rotates its token: a rotation racing a
    /// logout.
    async fn gated_rotate(
        Extension(gate): Extension<Gate>,
        session: Session,
    ) -> Result<String, SessionError> {
        let _ = session.id().await?;
        gate.pause().await;
        rotate(session).await
    }
}

/// Proves the round-trip budget of the layer over `store`: a request that never touches its
/// session makes no store call, a read-only request exactly one, a read-and-write request two
/// (one read, one write), and creating a session one.
pub async fn assert_round_trips<S: SessionStore + Clone>(store: S) {
    use sessionward::SessionLayer;
    let store = FlakyStore::wrap(store);
    let server = serve(routes::app().layer(SessionLayer::new(store.clone()))).await;
    let res = server.post("/set/a/1").send().await.unwrap();
    assert_eq!(res.status(), 204);
    let token = set_cookie(res.headers()).unwrap();
    assert_eq!(store.calls(), 1, "creating a session is one write");

    let before = store.calls();
    let res = server
        .get("/untouched")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        store.calls(),
        before,
        "a request that never touches its session costs no store call"
    );
    let res = server.get("/get/a").session(&token).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "1");
    assert_eq!(
        store.calls(),
        before + 1,
        "a read-only request costs one read"
    );
    let res = server
        .post("/set/b/2")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        store.calls(),
        before + 3,
        "a read-and-write request costs one read and one write"
    );
    let res = server.get("/get/b").session(&token).send().await.unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "2",
        "the write reached the store"
    );
}

#[path = "../cookie_value/mod.rs"]
mod cookie_value;
#[allow(unused_imports)] // not every test binary looks inside cookies
pub use cookie_value::opaque_token;
