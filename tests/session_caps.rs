//! Session caps over real HTTP on the memory store: per user with eviction of the least
//! recently used session or refusal (409 `{"error":"session_limit"}`), a store-wide cap (a
//! single-session server), re-logins that are no new session, counts, and simultaneous logins.

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Barrier;
use tokio::task::JoinSet;

use common::{routes, serve, set_cookie, Server, WithSession};
use sessionward::store::{MemoryStore, Overflow, SessionStore};
use sessionward::SessionLayer;

async fn server(layer: SessionLayer<MemoryStore>) -> Server {
    serve(routes::app().layer(layer)).await
}

/// Signs `user` in on a new client (or on `token`'s session); the status and the new token.
async fn login(server: &Server, user: &str, token: Option<&str>) -> (u16, Option<String>) {
    let mut req = server.post(&format!("/login/{user}"));
    if let Some(token) = token {
        req = req.session(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let token = set_cookie(res.headers());
    if status == 409 {
        assert!(token.is_none(), "a refused login sets no cookie");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"error": "session_limit"}));
    }
    (status, token)
}

async fn signed_in(server: &Server, token: &str) -> bool {
    let res = server.get("/me").session(token).send().await.unwrap();
    res.status() == 200
}

#[tokio::test]
async fn a_login_past_the_users_cap_evicts_the_least_recently_used_session() {
    let store = MemoryStore::default();
    let server = server(
        SessionLayer::new(store.clone()).max_sessions_per_user(2, Overflow::EvictLeastRecentlyUsed),
    )
    .await;
    let (_, first) = login(&server, "alice", None).await;
    let (_, second) = login(&server, "alice", None).await;
    let (first, second) = (first.unwrap(), second.unwrap());
    // The first session is the least recently used: a third login evicts it.
    let (status, third) = login(&server, "alice", None).await;
    assert_eq!(status, 200);
    assert!(
        !signed_in(&server, &first).await,
        "the oldest session is evicted"
    );
    assert!(signed_in(&server, &second).await);
    assert!(signed_in(&server, &third.unwrap()).await);
    let (_, bob) = login(&server, "bob", None).await;
    assert!(signed_in(&server, &bob.unwrap()).await, "caps are per user");
    let now = SystemTime::now();
    assert_eq!(store.count_by_user("alice", now).await.unwrap(), 2);
    let counts = store.count_active(now).await.unwrap();
    assert_eq!((counts.sessions, counts.users), (3, 2));
}

#[tokio::test]
async fn a_login_past_the_users_cap_is_refused_and_changes_nothing() {
    let server = server(
        SessionLayer::new(MemoryStore::default()).max_sessions_per_user(2, Overflow::Refuse),
    )
    .await;
    let (_, first) = login(&server, "alice", None).await;
    let (_, second) = login(&server, "alice", None).await;
    // A client with an anonymous session tries a third login: refused, its session kept.
    let res = server.post("/set/cart/3").send().await.unwrap();
    let anonymous = set_cookie(res.headers()).unwrap();
    let (status, _) = login(&server, "alice", Some(&anonymous)).await;
    assert_eq!(status, 409);
    let cart = server
        .get("/get/cart")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(
        cart.text().await.unwrap(),
        "3",
        "the anonymous session is as it was"
    );
    assert!(signed_in(&server, &first.unwrap()).await);
    assert!(signed_in(&server, second.as_ref().unwrap()).await);
    // A re-login on a session alice holds is no new session.
    let (status, again) = login(&server, "alice", second.as_deref()).await;
    assert_eq!(status, 200);
    assert!(signed_in(&server, &again.unwrap()).await);
}

#[tokio::test]
async fn a_store_wide_cap_of_one_makes_a_single_session_server() {
    let server = server(SessionLayer::new(MemoryStore::default()).max_signed_in_sessions(1)).await;
    let (status, alice) = login(&server, "alice", None).await;
    assert_eq!(status, 200);
    let alice = alice.unwrap();
    assert_eq!(login(&server, "bob", None).await.0, 409);
    assert_eq!(
        login(&server, "alice", None).await.0,
        409,
        "a second device too"
    );
    let (status, alice) = login(&server, "alice", Some(&alice)).await;
    assert_eq!(
        status, 200,
        "a re-login on the signed-in session is no new session"
    );
    let res = server
        .post("/logout")
        .session(&alice.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        login(&server, "bob", None).await.0,
        200,
        "room again after a logout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_logins_of_one_user_leave_at_most_the_cap() {
    const LOGINS: usize = 16;
    for overflow in [Overflow::EvictLeastRecentlyUsed, Overflow::Refuse] {
        let layer = SessionLayer::new(MemoryStore::default()).max_sessions_per_user(3, overflow);
        let server = server(layer).await;
        // Every request is ready before any is sent, then all go at once.
        let start = Arc::new(Barrier::new(LOGINS));
        let mut tasks = JoinSet::new();
        for _ in 0..LOGINS {
            let (client, url) = (server.client.clone(), server.url("/login/alice"));
            let start = Arc::clone(&start);
            tasks.spawn(async move {
                start.wait().await;
                let res = client.post(url).send().await.unwrap();
                (res.status().as_u16(), set_cookie(res.headers()))
            });
        }
        // Every login has finished before any token is tried: a token tried earlier could
        // still be evicted by a login in flight.
        let mut tokens = Vec::new();
        while let Some(result) = tasks.join_next().await {
            if let (200, Some(token)) = result.unwrap() {
                tokens.push(token);
            }
        }
        let accepted = tokens.len();
        let mut alive = 0;
        for token in &tokens {
            alive += usize::from(signed_in(&server, token).await);
        }
        match overflow {
            Overflow::EvictLeastRecentlyUsed => assert_eq!(accepted, LOGINS),
            Overflow::Refuse => assert_eq!(accepted, 3),
        }
        assert!(
            (1..=3).contains(&alive),
            "{overflow:?}: {alive} sessions alive"
        );
    }
}
