//! The demo's HTTP contract (design.md section 5), over real HTTP on loopback.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo.rs"]
mod demo;

use common::{header, serve, session_set_cookie, set_cookie, Server, WithSession};
use serde_json::{json, Value};
use sessionward::store::MemoryStore;
use sessionward::SessionLayer;

async fn server() -> Server {
    serve(demo::app().layer(SessionLayer::new(MemoryStore::default()))).await
}

async fn json_of(res: reqwest::Response) -> Value {
    assert_eq!(
        header(res.headers(), "content-type").as_deref(),
        Some("application/json")
    );
    res.json().await.unwrap()
}

async fn login(server: &Server, token: Option<&str>) -> reqwest::Response {
    let mut req = server
        .post("/login")
        .json(&json!({"username": "alice", "password": "wonderland"}));
    if let Some(token) = token {
        req = req.session(token);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn health_home_and_errors() {
    let server = server().await;
    assert_eq!(server.get("/healthz").send().await.unwrap().status(), 200);
    let res = server.get("/").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(res.headers(), "content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(res
        .text()
        .await
        .unwrap()
        .contains(r#"<form method="post" action="/login">"#));
    let res = server.get("/no/such/page").send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(json_of(res).await, json!({"error": "not_found"}));
    let res = server.post("/healthz").send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(json_of(res).await, json!({"error": "method_not_allowed"}));
}

#[tokio::test]
async fn prefs_merge_per_key_and_start_an_anonymous_session() {
    let server = server().await;
    let res = server.get("/api/prefs").send().await.unwrap();
    assert_eq!(json_of(res).await, json!({}));
    let res = server
        .put("/api/prefs")
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let token = set_cookie(res.headers()).expect("anonymous session started");
    let (a, b) = tokio::join!(
        server
            .put("/api/prefs")
            .session(&token)
            .json(&json!({"lang": "fr"}))
            .send(),
        server
            .put("/api/prefs")
            .session(&token)
            .json(&json!({"tz": "UTC", "theme": "light"}))
            .send(),
    );
    assert_eq!(a.unwrap().status(), 204);
    assert_eq!(b.unwrap().status(), 204);
    let res = server
        .get("/api/prefs")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(res).await,
        json!({"theme": "light", "lang": "fr", "tz": "UTC"})
    );
}

#[tokio::test]
async fn bad_bodies_are_json_4xx() {
    let server = server().await;
    for (ct, body) in [
        ("application/json", "{nope"),
        ("text/plain", r#"{"a":1}"#),
        ("application/json", "[1,2]"),
    ] {
        let res = server
            .put("/api/prefs")
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{ct} {body}");
        assert_eq!(json_of(res).await, json!({"error": "invalid_body"}));
    }
    let big: serde_json::Map<String, Value> =
        (0..100).map(|i| (format!("k{i}"), json!(i))).collect();
    let res = server.put("/api/prefs").json(&big).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let res = server
        .post("/login")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn json_login_rotates_carries_prefs_and_me_reports_the_session() {
    let server = server().await;
    let res = server
        .put("/api/prefs")
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    let anonymous = set_cookie(res.headers()).unwrap();

    let res = login(&server, Some(&anonymous)).await;
    assert_eq!(res.status(), 200);
    let token = set_cookie(res.headers()).unwrap();
    assert_ne!(token, anonymous);
    let body = json_of(res).await;
    assert_eq!(body["user"], "alice");
    let session_id = body["session_id"].as_str().unwrap().to_owned();
    assert_eq!(session_id.len(), 22);

    let res = server
        .get("/api/prefs")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(res).await,
        json!({"theme": "dark"}),
        "prefs carried over"
    );
    let res = server
        .get("/api/prefs")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res).await, json!({}), "the anonymous token is dead");

    let res = server.get("/api/me").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let me = json_of(res).await;
    assert_eq!(me["user"], "alice");
    assert_eq!(me["session_id"], session_id.as_str());
    for field in [
        "created_at",
        "last_seen_at",
        "expires_at",
        "idle_expires_at",
    ] {
        let text = me[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} missing"));
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{field}={text} is not RFC 3339: {e}"));
    }

    let res = server.get("/").session(&token).send().await.unwrap();
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Signed in as <strong>alice</strong>"));
}

#[tokio::test]
async fn wrong_credentials_are_401() {
    let server = server().await;
    for (user, password) in [("alice", "wrong"), ("nobody", "wonderland"), ("alice", "")] {
        let res = server
            .post("/login")
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert!(session_set_cookie(res.headers()).is_none());
        assert_eq!(json_of(res).await, json!({"error": "invalid_credentials"}));
    }
    let res = server.get("/api/me").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json_of(res).await, json!({"error": "unauthenticated"}));
}

#[tokio::test]
async fn form_login_and_logout_redirect_with_303() {
    let server = server().await;
    let res = server
        .post("/login")
        .form(&[("username", "bob"), ("password", "builder")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(header(res.headers(), "location").as_deref(), Some("/"));
    let token = set_cookie(res.headers()).unwrap();
    let res = server.get("/api/me").session(&token).send().await.unwrap();
    assert_eq!(json_of(res).await["user"], "bob");

    let res = server
        .post("/logout")
        .session(&token)
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(set_cookie(res.headers()).as_deref(), Some(""));
    let res = server.get("/api/me").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn json_logout_is_204_and_kills_the_token() {
    let server = server().await;
    let token = set_cookie(login(&server, None).await.headers()).unwrap();
    let res = server.post("/logout").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let line = session_set_cookie(res.headers()).unwrap();
    assert!(line.contains("Max-Age=0"), "{line}");
    let res = server.get("/api/me").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 401);
}
