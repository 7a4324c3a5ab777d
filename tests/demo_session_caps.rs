//! The demo's answers when a session cap refuses a login (docs/demo-http.md): 409
//! `{"error":"session_limit"}` for JSON, the login page with the message for a form, and the
//! session the client presented kept as it was.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use common::{serve, set_cookie, Server, WithSession};
use serde_json::{json, Value};
use sessionward::store::{MemoryStore, Overflow};

/// The demo with one session per user, refusing a second.
async fn server() -> Server {
    let layer =
        demo::session_layer(MemoryStore::default()).max_sessions_per_user(1, Overflow::Refuse);
    serve(demo::app().layer(layer)).await
}

const ALICE: &str = r#"{"username":"alice","password":"wonderland"}"#;

async fn json_login(server: &Server, token: Option<&str>) -> reqwest::Response {
    let mut req = server
        .post("/login")
        .header("content-type", "application/json")
        .body(ALICE);
    if let Some(token) = token {
        req = req.session(token);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_refused_json_login_is_409_and_keeps_the_presented_session() {
    let server = server().await;
    let first = json_login(&server, None).await;
    assert_eq!(first.status(), 200);
    let alice = set_cookie(first.headers()).unwrap();

    // An anonymous session with data, on a second device.
    let res = server
        .put("/api/prefs")
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let anonymous = set_cookie(res.headers()).unwrap();

    let refused = json_login(&server, Some(&anonymous)).await;
    assert_eq!(refused.status(), 409);
    assert!(set_cookie(refused.headers()).is_none(), "no new token");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body, json!({"error": "session_limit"}));

    // The anonymous session is as it was, and alice's first session still works.
    let prefs: Value = server
        .get("/api/prefs")
        .session(&anonymous)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prefs, json!({"theme": "dark"}));
    let me = server.get("/api/me").session(&alice).send().await.unwrap();
    assert_eq!(me.status(), 200);

    // A re-login on alice's own session is no new session: it passes.
    let again = json_login(&server, Some(&alice)).await;
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn a_refused_form_login_shows_the_page_with_the_message() {
    let server = server().await;
    assert_eq!(json_login(&server, None).await.status(), 200);
    let res = server
        .post("/login")
        .form(&[("username", "alice"), ("password", "wonderland")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(set_cookie(res.headers()).is_none());
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    let page = res.text().await.unwrap();
    assert!(
        page.contains(
            r#"data-error="session_limit">Too many sessions are signed in. Sign out elsewhere, or revoke a session, first.<"#
        ),
        "{page}"
    );
    assert!(
        page.contains(r#"value="alice""#),
        "the user name is typed again: {page}"
    );
}
