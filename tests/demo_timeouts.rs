//! The demo's adaptive timeouts (docs/demo-http.md): the admin gets 15 minutes idle and one
//! hour in all, a login with "remember me" (JSON `"remember": true` or the form's checkbox) a
//! week and a persistent cookie, everyone else the layer's 30 minutes and 8 hours.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use common::{serve, session_set_cookie, set_cookie, Server, WithSession};
use serde_json::{json, Value};
use sessionward::store::MemoryStore;

async fn server() -> Server {
    serve(demo::app().layer(demo::session_layer(MemoryStore::default()))).await
}

/// Signs in with a JSON body; returns the token and the `Set-Cookie` line.
async fn login(server: &Server, body: Value) -> (String, String) {
    let res = server.post("/login").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200, "{body}");
    let line = session_set_cookie(res.headers()).expect("login sets the cookie");
    (set_cookie(res.headers()).unwrap(), line)
}

fn max_age(line: &str) -> Option<i64> {
    line.split(';')
        .map(str::trim)
        .find_map(|attr| attr.strip_prefix("Max-Age="))
        .map(|v| v.parse().unwrap())
}

/// Seconds from `created_at` to `field` and from `last_seen_at` to `idle_expires_at`, as
/// `GET /api/me` reports them.
async fn lifetimes(server: &Server, token: &str) -> (i64, i64) {
    let res = server.get("/api/me").session(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    let at = |field: &str| {
        time::OffsetDateTime::parse(
            me[field].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp()
    };
    (
        at("expires_at") - at("created_at"),
        at("idle_expires_at") - at("last_seen_at"),
    )
}

#[tokio::test]
async fn the_admin_gets_short_timeouts_and_a_browser_session_cookie() {
    let server = server().await;
    let (token, line) = login(
        &server,
        json!({"username": "admin", "password": "admin-demo", "remember": true}),
    )
    .await;
    assert_eq!(
        max_age(&line),
        None,
        "the admin is never remembered: {line}"
    );
    assert_eq!(lifetimes(&server, &token).await, (3600, 900));
}

#[tokio::test]
async fn remember_me_gives_a_week_and_a_persistent_cookie() {
    let server = server().await;
    let (token, line) = login(
        &server,
        json!({"username": "alice", "password": "wonderland", "remember": true}),
    )
    .await;
    let age = max_age(&line).expect("a persistent cookie");
    assert!((604_798..=604_800).contains(&age), "Max-Age={age}");
    assert_eq!(lifetimes(&server, &token).await, (604_800, 604_800));
}

#[tokio::test]
async fn an_ordinary_login_keeps_the_layers_timeouts() {
    let server = server().await;
    let (token, line) = login(&server, json!({"username": "bob", "password": "builder"})).await;
    assert_eq!(max_age(&line), None, "{line}");
    assert_eq!(lifetimes(&server, &token).await, (28_800, 1800));
}

#[tokio::test]
async fn the_forms_remember_me_box_makes_the_cookie_persistent() {
    let server = server().await;
    for (form, persistent) in [
        ("username=alice&password=wonderland&remember=on", true),
        ("username=alice&password=wonderland", false),
    ] {
        let res = server
            .post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{form}");
        let line = session_set_cookie(res.headers()).expect("login sets the cookie");
        assert_eq!(max_age(&line).is_some(), persistent, "{form}: {line}");
    }
    let home = server.get("/").send().await.unwrap().text().await.unwrap();
    assert!(
        home.contains(r#"<input name="remember" type="checkbox">"#),
        "the login form offers the box"
    );
}
