//! Retention of ended sessions through the demo, over real HTTP on loopback, on a memory store
//! that keeps them for a day: a logged-out, revoked or expired session is listed as ended with
//! its reason and time, and its token is refused; without retention it is gone.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use std::time::{Duration, SystemTime};

use common::{serve, Server, WithSession};
use serde_json::{json, Value};
use sessionward::store::{
    EndReason, MemoryStore, SessionPatch, SessionQuery, SessionRecord, SessionState, SessionStore,
};

const DAY: Duration = Duration::from_secs(86_400);

async fn server(store: MemoryStore) -> Server {
    serve(demo::app().layer(demo::session_layer(store))).await
}

/// Signs `user` in; returns the token and the public id.
async fn login(server: &Server, user: &str, password: &str) -> (String, String) {
    server
        .demo_login_from(user, password, "retention-test")
        .await
}

/// The status and error code `GET /api/me` answers with `token`.
async fn me(server: &Server, token: &str) -> (u16, Value) {
    let res = server.get("/api/me").session(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// What an admin listing shows for `user` in `state`.
async fn listed(store: &MemoryStore, user: &str, state: SessionState) -> Vec<SessionRecord> {
    store
        .query(&SessionQuery {
            state,
            user: Some(user.to_owned()),
            ..SessionQuery::active()
        })
        .await
        .expect("query")
}

fn find<'a>(records: &'a [SessionRecord], id: &str) -> &'a SessionRecord {
    records
        .iter()
        .find(|r| r.id.to_string() == id)
        .unwrap_or_else(|| panic!("{id} listed in {records:?}"))
}

#[tokio::test]
async fn a_logged_out_session_is_listed_as_ended_and_its_token_refused() {
    let store = MemoryStore::new().with_retention(DAY);
    let server = server(store.clone()).await;
    let (token, id) = login(&server, "alice", "wonderland").await;
    assert_eq!(me(&server, &token).await.0, 200);
    let before = SystemTime::now();
    let res = server.post("/logout").session(&token).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let after = SystemTime::now();

    let (status, body) = me(&server, &token).await;
    assert_eq!(status, 401, "a logged-out token is refused");
    assert_eq!(body["error"], "unauthenticated", "as an unknown one");
    assert!(listed(&store, "alice", SessionState::Active)
        .await
        .is_empty());
    let expired = listed(&store, "alice", SessionState::Expired).await;
    let ended = find(&expired, &id).ended.expect("marked ended");
    assert_eq!(ended.reason, EndReason::LoggedOut);
    let ms = Duration::from_millis(1);
    assert!(
        ended.at + ms >= before && ended.at <= after,
        "ended at the logout"
    );
    assert_eq!(listed(&store, "alice", SessionState::All).await.len(), 1);
    // Still refused on its next requests, and a new login gets a new session.
    assert_eq!(me(&server, &token).await.0, 401);
    let (again, again_id) = login(&server, "alice", "wonderland").await;
    assert_ne!(again_id, id);
    assert_eq!(me(&server, &again).await.0, 200);
}

#[tokio::test]
async fn a_revoked_device_is_listed_as_revoked() {
    let store = MemoryStore::new().with_retention(DAY);
    let server = server(store.clone()).await;
    let (laptop, laptop_id) = login(&server, "alice", "wonderland").await;
    let (phone, _) = login(&server, "alice", "wonderland").await;
    let res = server
        .delete(&format!("/api/sessions/{laptop_id}"))
        .session(&phone)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(me(&server, &laptop).await.0, 401);
    let expired = listed(&store, "alice", SessionState::Expired).await;
    assert_eq!(
        find(&expired, &laptop_id).ended.map(|e| e.reason),
        Some(EndReason::Revoked)
    );
    // The user's own list shows active sessions only, and a second revoke finds nothing.
    let mine: Vec<Value> = server
        .get("/api/sessions")
        .session(&phone)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    let res = server
        .delete(&format!("/api/sessions/{laptop_id}"))
        .session(&phone)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn an_expired_session_is_kept_as_expired_when_presented() {
    let store = MemoryStore::new().with_retention(DAY);
    let server = server(store.clone()).await;
    let (token, id) = login(&server, "bob", "builder").await;
    // Its idle deadline passes (set in the past through the store: no waiting).
    let idle_deadline = SystemTime::now() - Duration::from_secs(5);
    let key = common::opaque_token(&token).hash();
    let patch = SessionPatch {
        idle_expires_at: Some(idle_deadline),
        ..SessionPatch::default()
    };
    assert!(store.update(&key, &patch).await.unwrap());
    let (status, body) = me(&server, &token).await;
    assert_eq!((status, &body["error"]), (401, &json!("session_expired")));
    let (status, body) = me(&server, &token).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("unauthenticated")),
        "ended when first seen"
    );
    let expired = listed(&store, "bob", SessionState::Expired).await;
    let ended = find(&expired, &id).ended.expect("marked ended");
    assert_eq!(ended.reason, EndReason::ExpiredIdle);
    let ms = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    assert_eq!(
        ms(ended.at),
        ms(idle_deadline),
        "ended at its idle deadline"
    );
    // Purged once the retention period has passed, not before.
    store
        .delete_expired(idle_deadline + DAY - Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(listed(&store, "bob", SessionState::All).await.len(), 1);
    store.delete_expired(idle_deadline + DAY).await.unwrap();
    assert!(listed(&store, "bob", SessionState::All).await.is_empty());
}

#[tokio::test]
async fn without_retention_an_ended_session_is_gone() {
    let store = MemoryStore::new();
    let server = server(store.clone()).await;
    let (token, _) = login(&server, "alice", "wonderland").await;
    let res = server.post("/logout").session(&token).send().await.unwrap();
    assert!(res.status().is_success());
    assert_eq!(me(&server, &token).await.0, 401);
    assert!(listed(&store, "alice", SessionState::All).await.is_empty());
    assert!(store.is_empty());
}
