//! The demo's admin dashboard and its live feed (docs/demo-http.md, "Admin API"): an HTML page
//! with no external assets, and server-sent events at `/admin/events` that bring each login,
//! logout, revocation and refused remote call, each followed by fresh stats.

mod common;

mod admin_support;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use admin_support::{
    admin_post, demo_server, demo_server_and_trail, login, session_id, Events, SECRET,
};
use common::{header, WithSession};
use serde_json::{json, Value};
use sessionward::store::MemoryStore;

#[tokio::test]
async fn the_dashboard_is_one_page_with_no_external_assets() {
    let server = demo_server(MemoryStore::default(), None).await;
    let admin = login(&server, "admin").await;
    let res = server.get("/admin").session(&admin).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(res.headers(), "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let policy = header(res.headers(), "content-security-policy").expect("a CSP");
    assert!(
        policy.starts_with("default-src 'none'; script-src 'sha256-"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let page = res.text().await.unwrap();
    let lower = page.to_ascii_lowercase();
    for external in ["http://", "https://", "//cdn", "<link", "src=", "@import"] {
        assert!(!lower.contains(external), "the page has {external:?}");
    }
    for part in [
        "data-stat=\"active\"",
        "id=\"events\"",
        "EventSource",
        "/events",
    ] {
        assert!(page.contains(part), "the page lacks {part:?}");
    }
}

/// The data of `event` as JSON.
fn json_of(event: &admin_support::Event) -> Value {
    serde_json::from_str(&event.data).unwrap()
}

#[tokio::test]
async fn the_feed_brings_each_login_and_logout_with_fresh_stats() {
    let (server, trail) = demo_server_and_trail(MemoryStore::default(), None).await;
    let admin = login(&server, "admin").await;
    trail.handle.flush().await;
    let mut events = Events::open(&server, &admin).await;
    let first = events.next().await;
    assert_eq!(
        first.name.as_deref(),
        Some("stats"),
        "the stream opens with the stats"
    );
    assert_eq!(json_of(&first), json!({"active": 1, "users": 1}));

    let alice = login(&server, "alice").await;
    let event = events.until(|e| e.name.is_none()).await;
    let data = json_of(&event);
    assert_eq!(
        (data["event"].as_str(), data["user"].as_str()),
        (Some("login"), Some("alice"))
    );
    let stats = events.next().await;
    assert_eq!(stats.name.as_deref(), Some("stats"));
    assert_eq!(json_of(&stats), json!({"active": 2, "users": 2}));

    let res = server.post("/logout").session(&alice).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let event = events.until(|e| e.name.is_none()).await;
    let data = json_of(&event);
    assert_eq!(
        (data["event"].as_str(), data["user"].as_str()),
        (Some("logout"), Some("alice"))
    );
    let stats = events.until(|e| e.name.as_deref() == Some("stats")).await;
    assert_eq!(json_of(&stats), json!({"active": 1, "users": 1}));
}

#[tokio::test]
async fn the_feed_brings_what_the_admin_and_remote_routes_do() {
    let (server, trail) = demo_server_and_trail(MemoryStore::default(), Some(SECRET)).await;
    let admin = login(&server, "admin").await;
    let bob = login(&server, "bob").await;
    trail.handle.flush().await;
    let mut events = Events::open(&server, &admin).await;

    let bob = session_id(&server, &bob).await;
    let res = admin_post(&server, &admin, "/admin/users/bob/revoke", json!({})).await;
    assert_eq!(res.status(), 204);
    let event = events.until(|e| e.name.is_none()).await;
    let data = json_of(&event);
    assert_eq!(
        (
            data["event"].as_str(),
            data["user"].as_str(),
            data["reason"].as_str()
        ),
        (Some("revoked"), Some("bob"), Some("admin"))
    );
    assert_eq!(data["session_id"], bob.as_str());

    // A refused remote call is audited, and so shown.
    let res = server
        .post("/remote/users/bob/revoke")
        .header("x-sessionward-secret", "not the secret at all")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let event = events.until(|e| e.name.is_none()).await;
    let data = json_of(&event);
    assert_eq!(data["event"], "remote_denied");
    assert_eq!(data["reason"], "wrong_secret");
    assert_eq!(data["ip"], "127.0.0.1");

    let res = server
        .post("/remote/users/bob/revoke")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let event = events.until(|e| e.name.is_none()).await;
    assert_eq!(json_of(&event)["reason"], "missing_secret");
}
