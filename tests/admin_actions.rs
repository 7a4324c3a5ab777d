//! The demo's admin actions and stats (docs/demo-http.md, "Admin API"): end one session, all
//! of a user's, or all but one; count active sessions and users. An ended session's token is
//! refused on its next request.

mod common;

mod admin_support;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use std::time::Duration;

use admin_support::{admin_post, demo_server, expire, insert, login, session_id, signed_in};
use common::{Server, WithSession};
use serde_json::{json, Value};
use sessionward::store::{MemoryStore, SessionStore};

async fn server() -> (Server, String) {
    let server = demo_server(MemoryStore::default(), None).await;
    let admin = login(&server, "admin").await;
    (server, admin)
}

#[tokio::test]
async fn revoking_one_session_ends_only_that_one() {
    let (server, admin) = server().await;
    let first = login(&server, "alice").await;
    let second = login(&server, "alice").await;
    let id = session_id(&server, &first).await;
    let path = format!("/admin/sessions/{id}/revoke");
    let res = admin_post(&server, &admin, &path, json!({})).await;
    assert_eq!(res.status(), 204);
    assert!(
        !signed_in(&server, &first).await,
        "the revoked token is refused"
    );
    assert!(
        signed_in(&server, &second).await,
        "the other session lives on"
    );
    let res = admin_post(&server, &admin, &path, json!({})).await;
    assert_eq!(res.status(), 404, "already gone");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    for bad in ["not-an-id", "AAAAAAAAAAAAAAAAAAAAAA"] {
        let res = admin_post(
            &server,
            &admin,
            &format!("/admin/sessions/{bad}/revoke"),
            json!({}),
        )
        .await;
        assert_eq!(res.status(), 404, "{bad}");
    }
}

#[tokio::test]
async fn revoking_a_user_ends_all_their_sessions() {
    let (server, admin) = server().await;
    let bobs = [login(&server, "bob").await, login(&server, "bob").await];
    let alice = login(&server, "alice").await;
    let res = admin_post(&server, &admin, "/admin/users/bob/revoke", json!({})).await;
    assert_eq!(res.status(), 204);
    for token in &bobs {
        assert!(!signed_in(&server, token).await);
    }
    assert!(signed_in(&server, &alice).await);
    let res = admin_post(&server, &admin, "/admin/users/bob/revoke", json!({})).await;
    assert_eq!(res.status(), 204, "a user without sessions: nothing to do");
}

#[tokio::test]
async fn keep_keeps_the_newest_session_by_default() {
    let store = MemoryStore::default();
    let server = demo_server(store.clone(), None).await;
    let admin = login(&server, "admin").await;
    // Older sessions an hour apart (stores keep milliseconds: logins in one would tie).
    let (older, _) = insert(&store, Some("alice"), Duration::from_secs(7200), |_| {}).await;
    let (old, _) = insert(&store, Some("alice"), Duration::from_secs(3600), |_| {}).await;
    let newest_token = login(&server, "alice").await;
    let bob = login(&server, "bob").await;
    let newest = session_id(&server, &newest_token).await;
    let res = admin_post(&server, &admin, "/admin/users/alice/keep", json!({})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"kept": newest, "revoked": 2}));
    assert_eq!(store.load(&older).await.unwrap(), None);
    assert_eq!(store.load(&old).await.unwrap(), None);
    assert!(signed_in(&server, &newest_token).await);
    assert!(signed_in(&server, &bob).await, "another user is untouched");
    // An empty body is the same as `{}`.
    let res = server
        .post("/admin/users/alice/keep")
        .session(&admin)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"kept": newest, "revoked": 0}));
}

#[tokio::test]
async fn keep_keeps_the_session_named_and_refuses_another_users() {
    let (server, admin) = server().await;
    let oldest = login(&server, "alice").await;
    let newer = login(&server, "alice").await;
    let bob = login(&server, "bob").await;
    let bobs_id = session_id(&server, &bob).await;
    for target in [
        json!(bobs_id),
        json!("not-an-id"),
        json!("AAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let res = admin_post(
            &server,
            &admin,
            "/admin/users/alice/keep",
            json!({"session_id": target}),
        )
        .await;
        assert_eq!(res.status(), 404, "{target}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "not_found");
    }
    assert!(signed_in(&server, &oldest).await && signed_in(&server, &newer).await);
    assert!(signed_in(&server, &bob).await, "a 404 ends nothing");

    let id = session_id(&server, &oldest).await;
    let res = admin_post(
        &server,
        &admin,
        "/admin/users/alice/keep",
        json!({"session_id": id}),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"kept": id, "revoked": 1}));
    assert!(signed_in(&server, &oldest).await);
    assert!(!signed_in(&server, &newer).await);

    let res = admin_post(&server, &admin, "/admin/users/nobody/keep", json!({})).await;
    assert_eq!(res.status(), 404, "a user without sessions");
    let huge = json!({ "session_id": "x".repeat(5000) });
    let res = admin_post(&server, &admin, "/admin/users/alice/keep", huge).await;
    assert_eq!(res.status(), 413);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["error"], "too_large");
    let res = admin_post(&server, &admin, "/admin/users/%FF/keep", json!({})).await;
    assert_eq!(res.status(), 404, "a user name that is not UTF-8");
    for body in [json!([1]), json!({"session_id": 7}), json!({"other": 1})] {
        let res = admin_post(&server, &admin, "/admin/users/alice/keep", body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["error"], "invalid_body");
    }
}

#[tokio::test]
async fn stats_count_active_signed_in_sessions_and_users() {
    let store = MemoryStore::default();
    let server = demo_server(store.clone(), None).await;
    let admin = login(&server, "admin").await;
    let stats = |server: &Server| {
        let req = server.get("/admin/stats").session(&admin);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(stats(&server).await, json!({"active": 1, "users": 1}));
    login(&server, "alice").await;
    login(&server, "alice").await;
    login(&server, "bob").await;
    // Neither an anonymous session nor an expired one counts.
    let res = server
        .put("/api/prefs")
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    insert(&store, Some("carol"), Duration::from_secs(60), expire).await;
    assert_eq!(stats(&server).await, json!({"active": 4, "users": 3}));
    admin_post(&server, &admin, "/admin/users/alice/revoke", json!({})).await;
    assert_eq!(stats(&server).await, json!({"active": 2, "users": 2}));
}
