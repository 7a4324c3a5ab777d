//! Self-service on one's own sessions through the demo, over real HTTP on loopback: list them
//! (the current one flagged), revoke one, revoke all others; never see or end another user's.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use common::{serve, set_cookie, Server, WithSession};
use serde_json::{json, Value};
use sessionward::store::MemoryStore;

async fn server(store: MemoryStore) -> Server {
    serve(demo::app().layer(demo::session_layer(store))).await
}

/// Signs `user` in from a device named `agent`; returns the token and the public id.
async fn login(server: &Server, user: &str, password: &str, agent: &str) -> (String, String) {
    server.demo_login_from(user, password, agent).await
}

async fn me_status(server: &Server, token: &str) -> u16 {
    let res = server.get("/api/me").session(token).send().await.unwrap();
    res.status().as_u16()
}

async fn list(server: &Server, token: &str) -> Vec<Value> {
    let res = server
        .get("/api/sessions")
        .session(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn delete(server: &Server, token: &str, id: &str) -> u16 {
    let res = server
        .delete(&format!("/api/sessions/{id}"))
        .session(token)
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

#[tokio::test]
async fn a_user_lists_their_devices_with_the_current_one_flagged() {
    let server = server(MemoryStore::default()).await;
    let (laptop, laptop_id) = login(&server, "alice", "wonderland", "laptop").await;
    let (phone, phone_id) = login(&server, "alice", "wonderland", "phone").await;
    login(&server, "bob", "builder", "bob's").await;

    let sessions = list(&server, &phone).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let by_id = |id: &str| {
        sessions
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed"))
            .clone()
    };
    let (this, other) = (by_id(&phone_id), by_id(&laptop_id));
    assert_eq!(this["current"], true);
    assert_eq!(other["current"], false);
    assert_eq!(this["user_agent"], "phone");
    assert_eq!(other["user_agent"], "laptop");
    assert_eq!(this["ip"], "127.0.0.1");
    for field in [
        "created_at",
        "last_seen_at",
        "expires_at",
        "idle_expires_at",
    ] {
        assert!(
            this[field].as_str().is_some_and(|t| t.ends_with('Z')),
            "{field}: {this}"
        );
    }
    // Nothing secret is listed: no token, no data.
    let text = serde_json::to_string(&sessions).unwrap();
    assert!(!text.contains(&phone) && !text.contains(&laptop), "{text}");
    // The laptop sees the same two, flagged the other way.
    let from_laptop = list(&server, &laptop).await;
    assert!(from_laptop
        .iter()
        .any(|s| s["id"] == laptop_id && s["current"] == true));
}

#[tokio::test]
async fn revoking_another_device_kills_its_token_at_once() {
    let server = server(MemoryStore::default()).await;
    let (laptop, laptop_id) = login(&server, "alice", "wonderland", "laptop").await;
    let (phone, _) = login(&server, "alice", "wonderland", "phone").await;
    assert_eq!(delete(&server, &phone, &laptop_id).await, 204);
    assert_eq!(me_status(&server, &laptop).await, 401);
    assert_eq!(me_status(&server, &phone).await, 200);
    assert_eq!(list(&server, &phone).await.len(), 1);
    // Gone: a second revoke is a not-found.
    assert_eq!(delete(&server, &phone, &laptop_id).await, 404);
}

#[tokio::test]
async fn another_users_session_is_neither_listed_nor_revocable() {
    let server = server(MemoryStore::default()).await;
    let (alice, _) = login(&server, "alice", "wonderland", "a").await;
    let (bob, bob_id) = login(&server, "bob", "builder", "b").await;
    let alices = list(&server, &alice).await;
    assert!(alices.iter().all(|s| s["id"] != bob_id), "{alices:?}");
    // Bob's real id and an id that exists nowhere answer alike.
    let res = server
        .delete(&format!("/api/sessions/{bob_id}"))
        .session(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let bobs_answer: Value = res.json().await.unwrap();
    let unknown = "AAAAAAAAAAAAAAAAAAAAAA";
    let res = server
        .delete(&format!("/api/sessions/{unknown}"))
        .session(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), bobs_answer);
    assert_eq!(delete(&server, &alice, "not-an-id").await, 404);
    assert_eq!(me_status(&server, &bob).await, 200);
}

#[tokio::test]
async fn revoke_others_keeps_only_the_current_session() {
    let server = server(MemoryStore::default()).await;
    let mut others = Vec::new();
    for agent in ["one", "two", "three"] {
        others.push(login(&server, "alice", "wonderland", agent).await.0);
    }
    let (bob, _) = login(&server, "bob", "builder", "b").await;
    let (current, current_id) = login(&server, "alice", "wonderland", "now").await;
    let res = server
        .post("/api/sessions/revoke-others")
        .session(&current)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"revoked": 3}));
    for token in &others {
        assert_eq!(me_status(&server, token).await, 401);
    }
    assert_eq!(me_status(&server, &current).await, 200);
    assert_eq!(me_status(&server, &bob).await, 200);
    let left = list(&server, &current).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], current_id.as_str());
}

#[tokio::test]
async fn revoking_the_current_session_is_a_logout() {
    let server = server(MemoryStore::default()).await;
    let (token, id) = login(&server, "alice", "wonderland", "a").await;
    let res = server
        .delete(&format!("/api/sessions/{id}"))
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        set_cookie(res.headers()).as_deref(),
        Some(""),
        "cookie cleared"
    );
    assert_eq!(me_status(&server, &token).await, 401);
}

#[tokio::test]
async fn anonymous_callers_get_401() {
    let server = server(MemoryStore::default()).await;
    assert_eq!(
        server.get("/api/sessions").send().await.unwrap().status(),
        401
    );
    let res = server
        .post("/api/sessions/revoke-others")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = server
        .delete("/api/sessions/AAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_revocation_on_one_instance_is_seen_by_another_sharing_the_store() {
    let store = MemoryStore::default();
    let (a, b) = (server(store.clone()).await, server(store).await);
    let (laptop, laptop_id) = login(&a, "alice", "wonderland", "laptop").await;
    let (phone, _) = login(&b, "alice", "wonderland", "phone").await;
    assert_eq!(me_status(&a, &laptop).await, 200);
    assert_eq!(delete(&b, &phone, &laptop_id).await, 204);
    assert_eq!(me_status(&a, &laptop).await, 401);
}

#[tokio::test]
async fn the_home_page_lists_devices_with_revoke_buttons() {
    let server = server(MemoryStore::default()).await;
    let (laptop, laptop_id) = login(&server, "alice", "wonderland", "laptop<b>").await;
    let (phone, _) = login(&server, "alice", "wonderland", "phone").await;
    let page = server
        .get("/")
        .session(&phone)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let button = format!(r#"<form method="post" action="/sessions/{laptop_id}/revoke">"#);
    assert!(page.contains(&button), "{page}");
    assert!(page.contains("this device"), "{page}");
    assert!(
        page.contains("laptop&lt;b&gt;"),
        "user agent escaped: {page}"
    );
    // The button works as a form post with the page's CSRF token: 303 to the home page, the
    // laptop signed out.
    let token = page
        .split_once(&button)
        .and_then(|(_, rest)| rest.split_once(r#"name="csrf_token" value=""#))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token)
        .expect("the form carries a CSRF token");
    let res = server
        .post(&format!("/sessions/{laptop_id}/revoke"))
        .session(&phone)
        .form(&[("csrf_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(me_status(&server, &laptop).await, 401);
}
