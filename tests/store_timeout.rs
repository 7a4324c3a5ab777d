//! `SessionLayer::store_timeout` and `TimeoutStore`: a store call that never answers is cut
//! after the configured time, and the request answers 503 `{"error":"session_store_unavailable"}`
//! like any store failure: never 401, the cookie neither set nor cleared, and the session
//! intact once the store answers again. The demo over the memory store, with a store call held
//! by `FaultyStore::pause` (it waits for the test, for ever if the test lets it). The same over
//! a stalled connection to a real PostgreSQL and Redis is in `fault_load.rs`.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use std::time::{Duration, Instant};

use common::faults::{FaultyStore, Op};
use common::{serve, session_set_cookie, Server, WithSession};
use serde_json::{json, Value};
use sessionward::store::conformance::sample;
use sessionward::store::{SessionStore, TimeoutStore};
use sessionward::{SessionLayer, StoreError};

const TIMEOUT: Duration = Duration::from_millis(300);
/// Far beyond `TIMEOUT`: only an answer that never comes runs into it.
const GUARD: Duration = Duration::from_secs(10);

async fn demo_over(
    store: FaultyStore,
    layer: impl Fn(SessionLayer<FaultyStore>) -> SessionLayer<FaultyStore>,
) -> Server {
    serve(demo::app().layer(layer(demo::session_layer(store)))).await
}

/// Sends `request`, and returns its status, body, whether it carried a session `Set-Cookie`,
/// and how long the answer took.
async fn timed(request: reqwest::RequestBuilder) -> (u16, Value, bool, Duration) {
    let started = Instant::now();
    let res = tokio::time::timeout(GUARD, request.send())
        .await
        .expect("an answer: the held store call was never cut")
        .unwrap();
    let took = started.elapsed();
    let cookie = session_set_cookie(res.headers()).is_some();
    let status = res.status().as_u16();
    (
        status,
        res.json().await.unwrap_or(Value::Null),
        cookie,
        took,
    )
}

fn assert_cut(what: &str, (status, body, cookie, took): (u16, Value, bool, Duration)) {
    assert_eq!(status, 503, "{what}: a stuck store is 503, never 401");
    assert_eq!(
        body,
        json!({"error": "session_store_unavailable"}),
        "{what}"
    );
    assert!(!cookie, "{what}: the cookie is neither set nor cleared");
    assert!(
        took >= TIMEOUT,
        "{what}: answered after {took:?}, before the {TIMEOUT:?} timeout"
    );
    println!("{what}: 503 after {took:?} (timeout {TIMEOUT:?})");
}

/// A read that never answers: 503 once the timeout has passed; the same session works again
/// once the store answers.
#[tokio::test]
async fn a_stuck_read_is_cut_by_the_timeout() {
    let store = FaultyStore::default();
    let server = demo_over(store.clone(), |layer| layer.store_timeout(TIMEOUT)).await;
    let token = server.demo_login().await;

    let mut held = store.pause(&[Op::Load]);
    assert_cut(
        "GET /api/me",
        timed(server.get("/api/me").session(&token)).await,
    );
    assert_eq!(held.reached().await, Op::Load);
    held.release();
    let (status, body, cookie, _) = timed(server.get("/api/me").session(&token)).await;
    assert_eq!(
        (status, &body["user"], cookie),
        (200, &json!("alice"), false)
    );
}

/// A write that never answers: 503; the write was abandoned before it reached the store, so
/// the session keeps what it had.
#[tokio::test]
async fn a_stuck_write_is_cut_by_the_timeout() {
    let store = FaultyStore::default();
    let server = demo_over(store.clone(), |layer| layer.store_timeout(TIMEOUT)).await;
    let token = server.demo_login().await;
    let res = server
        .put("/api/prefs")
        .session(&token)
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let _held = store.pause(&[Op::Update]);
    let put = server
        .put("/api/prefs")
        .session(&token)
        .json(&json!({"theme": "light"}));
    assert_cut("PUT /api/prefs", timed(put).await);
    let (status, body, _, _) = timed(server.get("/api/prefs").session(&token)).await;
    assert_eq!((status, body), (200, json!({"theme": "dark"})));
}

/// A login and a logout whose store call never answers: 503, no cookie set or cleared, and
/// the session as it was.
#[tokio::test]
async fn a_stuck_login_or_logout_is_cut_by_the_timeout() {
    let store = FaultyStore::default();
    let server = demo_over(store.clone(), |layer| layer.store_timeout(TIMEOUT)).await;

    let _held = store.pause(&[Op::Create, Op::Rotate]);
    let login = server
        .post("/login")
        .json(&json!({"username": "alice", "password": "wonderland"}));
    assert_cut("POST /login", timed(login).await);
    store.heal();

    let token = server.demo_login().await;
    let _held = store.pause(Op::ENDING);
    assert_cut(
        "POST /logout",
        timed(server.post("/logout").session(&token)).await,
    );
    store.heal();
    let (status, body, _, _) = timed(server.get("/api/me").session(&token)).await;
    assert_eq!(
        (status, &body["user"]),
        (200, &json!("alice")),
        "still signed in"
    );
}

/// A second `store_timeout` replaces the first (it does not add a second, shorter bound).
#[tokio::test]
async fn a_second_store_timeout_replaces_the_first() {
    let longer = TIMEOUT * 2;
    let store = FaultyStore::default();
    let server = demo_over(store.clone(), |layer| {
        layer
            .store_timeout(Duration::from_millis(50))
            .store_timeout(longer)
    })
    .await;
    let token = server.demo_login().await;
    let _held = store.pause(&[Op::Load]);
    let (status, _, _, took) = timed(server.get("/api/me").session(&token)).await;
    assert_eq!(status, 503);
    assert!(
        took >= longer,
        "cut after {took:?}, before the {longer:?} set last"
    );
}

/// Without `store_timeout` nothing cuts a held call: the layer adds no timer of its own.
#[tokio::test]
async fn without_a_store_timeout_a_held_call_waits_for_the_store() {
    let store = FaultyStore::default();
    let server = demo_over(store.clone(), |layer| layer).await;
    let token = server.demo_login().await;
    let mut held = store.pause(&[Op::Load]);
    let request = server.get("/api/me").session(&token).send();
    let mut request = tokio::spawn(request);
    held.reached().await;
    assert!(
        tokio::time::timeout(TIMEOUT * 2, &mut request)
            .await
            .is_err(),
        "answered while the store call was held"
    );
    held.release();
    let res = request.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
}

/// `TimeoutStore` on its own: the error says what timed out and after how long, and answers
/// 503 through the layer like any store failure.
#[tokio::test]
async fn the_error_names_the_operation_and_the_time() {
    let faulty = FaultyStore::default();
    let store = TimeoutStore::new(faulty.clone(), Duration::from_millis(100));
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record).await.unwrap();
    assert!(
        store.load(&key).await.unwrap().is_some(),
        "answers in time pass through"
    );

    let _held = faulty.pause(&[Op::Load]);
    let err = store.load(&key).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TimedOut { operation: "load", after } if after == Duration::from_millis(100)
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "session store timed out: no answer to load within 100ms"
    );
    let _held = faulty.pause(&[Op::Update]);
    let err = store
        .update(&key, &sessionward::store::SessionPatch::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no answer to update within 100ms"),
        "{err}"
    );

    // Behind the layer: the same 503 as a failing store.
    let server = serve(demo::app().layer(demo::session_layer(TimeoutStore::new(
        faulty.clone(),
        TIMEOUT,
    ))))
    .await;
    let token = server.demo_login().await;
    let _held = faulty.pause(&[Op::Load]);
    assert_cut(
        "GET /api/me (TimeoutStore)",
        timed(server.get("/api/me").session(&token)).await,
    );
}

/// A zero timeout could never let a call through: refused when the layer is built.
#[test]
#[should_panic(expected = "a store timeout must not be zero")]
fn a_zero_store_timeout_is_refused() {
    let _ =
        SessionLayer::new(sessionward::store::MemoryStore::default()).store_timeout(Duration::ZERO);
}
