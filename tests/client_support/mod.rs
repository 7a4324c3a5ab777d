//! A bearer-token API on loopback for the client tests: the demo's token contract, with
//! unsigned JWT-shaped access tokens (their payload holds `exp`), single-use refresh tokens,
//! and counters of what the server saw.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::Notify;

/// The inner service of the client tests: hyper's own client.
pub type Http = Client<HttpConnector, Full<Bytes>>;

pub fn http() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// The server's state; the test reads its counters and changes its rules.
#[derive(Default)]
pub struct Tokens {
    serial: AtomicU64,
    /// Lifetime in seconds of the access tokens issued from now on.
    access_ttl: AtomicI64,
    /// Valid access tokens and their serial numbers.
    access: Mutex<HashMap<String, u64>>,
    /// Refresh tokens not used yet.
    refresh: Mutex<HashSet<String>>,
    refresh_calls: AtomicUsize,
    api_calls: AtomicUsize,
    /// When set, a refresh says it arrived and waits to be let through.
    refresh_gate: Mutex<Option<Gate>>,
}

/// Holds refreshes at the server: `arrived` is notified when one comes in, and it answers once
/// `release` is notified.
#[derive(Clone, Default)]
pub struct Gate {
    pub arrived: Arc<Notify>,
    pub release: Arc<Notify>,
}

pub struct TokenServer {
    pub base: String,
    pub tokens: Arc<Tokens>,
}

impl TokenServer {
    /// Starts the server; access tokens live `access_ttl` seconds until told otherwise.
    pub async fn start(access_ttl: i64) -> Self {
        let tokens = Arc::new(Tokens::default());
        tokens.access_ttl.store(access_ttl, Ordering::SeqCst);
        let app = Router::new()
            .route("/api/token", post(sign_in))
            .route("/api/token/refresh", post(refresh))
            .route("/api/me", get(me))
            .route("/api/always-401", get(always_401))
            // Token endpoints that answer 200 with something else.
            .route("/api/not-json", post(|| async { "welcome" }))
            .route("/api/huge", post(|| async { "x".repeat(100 * 1024) }))
            .with_state(tokens.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, tokens }
    }

    pub fn uri(&self, path: &str) -> http::Uri {
        format!("{}{path}", self.base).parse().unwrap()
    }

    pub fn get(&self, path: &str) -> http::Request<Full<Bytes>> {
        http::Request::get(self.uri(path))
            .body(Full::default())
            .unwrap()
    }

    pub fn set_access_ttl(&self, seconds: i64) {
        self.tokens.access_ttl.store(seconds, Ordering::SeqCst);
    }

    /// Makes every access token issued so far invalid (as a server restart with a new key
    /// would); refresh tokens stay valid.
    pub fn reject_access_tokens(&self) {
        self.tokens.access.lock().unwrap().clear();
    }

    /// Holds every refresh from now on at the returned gate.
    pub fn gate_refreshes(&self) -> Gate {
        let gate = Gate::default();
        *self.tokens.refresh_gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    pub fn refresh_calls(&self) -> usize {
        self.tokens.refresh_calls.load(Ordering::SeqCst)
    }

    pub fn api_calls(&self) -> usize {
        self.tokens.api_calls.load(Ordering::SeqCst)
    }

    /// The serial number of the latest pair issued.
    pub fn latest_serial(&self) -> u64 {
        self.tokens.serial.load(Ordering::SeqCst)
    }
}

/// The `serial` a successful `GET /api/me` answered: which access token it saw.
pub async fn serial_of<B>(response: http::Response<B>) -> u64
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["user"], "alice");
    json["serial"].as_u64().unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Tokens {
    fn issue(&self) -> Response {
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        let ttl = self.access_ttl.load(Ordering::SeqCst);
        let claims = json!({ "sub": "alice", "exp": now() + ttl, "serial": serial });
        let access = format!(
            "{}.{}.unsigned",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let refresh = format!("refresh-{serial}");
        self.access.lock().unwrap().insert(access.clone(), serial);
        self.refresh.lock().unwrap().insert(refresh.clone());
        Json(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
        }))
        .into_response()
    }
}

async fn sign_in(State(tokens): State<Arc<Tokens>>, Json(body): Json<Value>) -> Response {
    if body["username"] == "alice" && body["password"] == "wonderland" {
        tokens.issue()
    } else {
        let error = Json(json!({ "error": "invalid_credentials" }));
        (StatusCode::UNAUTHORIZED, error).into_response()
    }
}

async fn refresh(State(tokens): State<Arc<Tokens>>, Json(body): Json<Value>) -> Response {
    tokens.refresh_calls.fetch_add(1, Ordering::SeqCst);
    let gate = tokens.refresh_gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.arrived.notify_one();
        gate.release.notified().await;
    }
    let presented = body["refresh_token"].as_str().unwrap_or_default();
    if tokens.refresh.lock().unwrap().remove(presented) {
        return tokens.issue();
    }
    // Unknown or reused: the session is revoked, as the demo does.
    tokens.access.lock().unwrap().clear();
    tokens.refresh.lock().unwrap().clear();
    let error = Json(json!({ "error": "invalid_grant" }));
    (StatusCode::UNAUTHORIZED, error).into_response()
}

async fn me(State(tokens): State<Arc<Tokens>>, headers: HeaderMap) -> Response {
    tokens.api_calls.fetch_add(1, Ordering::SeqCst);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let serial = bearer.and_then(|token| tokens.access.lock().unwrap().get(token).copied());
    match serial {
        Some(serial) => Json(json!({ "user": "alice", "serial": serial })).into_response(),
        None => invalid_token(),
    }
}

async fn always_401(State(tokens): State<Arc<Tokens>>) -> Response {
    tokens.api_calls.fetch_add(1, Ordering::SeqCst);
    invalid_token()
}

fn invalid_token() -> Response {
    let challenge = [(header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)];
    (StatusCode::UNAUTHORIZED, challenge).into_response()
}

/// `inner` serving one request at a time, as tower's `ConcurrencyLimit` with a limit of 1: a
/// slot is taken in `poll_ready` and given back when the response (or error) is out. Written
/// here so the tests need not build tower's `limit` feature for one test.
pub struct OneAtATime<S> {
    inner: S,
    slot: Arc<tokio::sync::Semaphore>,
    taken: Option<tokio::sync::OwnedSemaphorePermit>,
    waiting: Option<Pin<Box<dyn Future<Output = tokio::sync::OwnedSemaphorePermit> + Send>>>,
}

impl<S: Clone> Clone for OneAtATime<S> {
    /// A clone shares the slot, not a slot taken for a request not yet made.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            slot: Arc::clone(&self.slot),
            taken: None,
            waiting: None,
        }
    }
}

impl<S> OneAtATime<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            slot: Arc::new(tokio::sync::Semaphore::new(1)),
            taken: None,
            waiting: None,
        }
    }
}

impl<S, R> tower::Service<R> for OneAtATime<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.taken.is_none() {
            let slot = Arc::clone(&self.slot);
            let waiting = self.waiting.get_or_insert_with(|| {
                Box::pin(async move { slot.acquire_owned().await.expect("never closed") })
            });
            let permit = std::task::ready!(waiting.as_mut().poll(cx));
            self.waiting = None;
            self.taken = Some(permit);
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let permit = self.taken.take().expect("poll_ready first");
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(permit);
            response
        })
    }
}
