//! The demo's HTTP contract (docs/demo-http.md), over real HTTP on loopback.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use std::time::Duration;

use common::wait::{now_ms, sleep_past};
use common::{header, serve, session_set_cookie, set_cookie, Server, WithSession};
use serde_json::{json, Value};
use sessionward::store::MemoryStore;

async fn server() -> Server {
    serve(demo::app().layer(demo::session_layer(MemoryStore::default()))).await
}

async fn html_of(res: reqwest::Response) -> String {
    assert_eq!(
        header(res.headers(), "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    res.text().await.unwrap()
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

/// One client sending new keys request after request cannot grow its session without bound:
/// the session's keys and bytes are capped, a refused PUT stores none of its keys, and what was
/// stored before stays readable.
#[tokio::test]
async fn prefs_are_bounded_per_session_not_only_per_request() {
    let server = server().await;
    let batch = |round: usize, keys: usize, len: usize| -> serde_json::Map<String, Value> {
        (0..keys)
            .map(|i| (format!("r{round}k{i}"), json!("x".repeat(len))))
            .collect()
    };
    let res = server
        .put("/api/prefs")
        .json(&batch(0, 8, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let token = set_cookie(res.headers()).unwrap();
    let mut refused = 0;
    for round in 1..50 {
        let res = server
            .put("/api/prefs")
            .session(&token)
            .json(&batch(round, 8, 10))
            .send()
            .await
            .unwrap();
        if res.status() == 413 {
            refused += 1;
            assert_eq!(
                json_of(res).await,
                json!({"error": "session_data_too_large"})
            );
        } else {
            assert_eq!(res.status(), 204, "round {round}");
        }
    }
    assert_eq!(
        refused, 46,
        "32 keys fit: rounds 0 to 3, then every PUT is refused"
    );
    let res = server
        .get("/api/prefs")
        .session(&token)
        .send()
        .await
        .unwrap();
    let prefs = json_of(res).await;
    let prefs = prefs.as_object().unwrap();
    assert_eq!(prefs.len(), 32, "the first four batches, whole");
    let round_of = |k: &str| -> usize { k[1..k.find('k').unwrap()].parse().unwrap() };
    assert!(prefs.keys().all(|k| round_of(k) < 4), "{prefs:?}");

    // Bytes are bounded too: 16 KiB per session, with values of at most 1 KiB each.
    let res = server
        .put("/api/prefs")
        .json(&batch(0, 12, 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let token = set_cookie(res.headers()).unwrap();
    let res = server
        .put("/api/prefs")
        .session(&token)
        .json(&batch(1, 12, 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413, "24 values of 1 KB pass 16 KiB");
    let res = server
        .get("/api/prefs")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res).await.as_object().unwrap().len(), 12);
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
    assert_eq!(json_of(res).await, json!({"error": "invalid_body"}));
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
    assert_eq!(
        header(res.headers(), "cache-control").as_deref(),
        Some("no-store")
    );
    let token = set_cookie(res.headers()).unwrap();
    assert_ne!(token, anonymous);
    let body = json_of(res).await;
    assert_eq!(body["user"], "alice");
    assert!(
        body.get("token").is_none(),
        "a cookie client's token is in the cookie only"
    );
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

#[tokio::test]
async fn failed_form_logins_show_the_form_again_with_the_error() {
    let server = server().await;
    let typed = r#"<script>alert("x")</script>&'"#;
    let res = server
        .post("/login")
        .form(&[("username", typed), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(session_set_cookie(res.headers()).is_none());
    let page = html_of(res).await;
    assert!(
        page.contains(r#"data-error="invalid_credentials">Wrong user name or password.<"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<form method="post" action="/login">"#),
        "{page}"
    );
    assert!(
        page.contains(r#"value="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;'""#),
        "the name typed comes back, escaped: {page}"
    );
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        !page.contains("wrong"),
        "the password never comes back: {page}"
    );

    for (body, typed) in [
        ("username=bob", "bob"),
        ("password=builder", ""),
        ("", ""),
        ("username=bob&username=alice&password=builder", ""),
    ] {
        let res = server
            .post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert!(session_set_cookie(res.headers()).is_none());
        let page = html_of(res).await;
        assert!(
            page.contains(
                r#"data-error="invalid_body">The form needs a user name and a password.<"#
            ),
            "{body}: {page}"
        );
        assert!(
            page.contains(&format!(
                r#"name="username" autocomplete="username" value="{typed}""#
            )),
            "{body}: {page}"
        );
    }
}

/// `Authorization: Bearer` on `POST /login`: login kills the token the client sent and a bearer
/// client gets no cookie, so the new token comes back in the body.
#[tokio::test]
async fn bearer_login_answers_the_new_token_in_the_body() {
    let server = server().await;
    let first = server.demo_login().await;
    let res = server
        .post("/login")
        .header("authorization", format!("Bearer {first}"))
        .json(&json!({"username": "bob", "password": "builder"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(session_set_cookie(res.headers()).is_none(), "no cookie");
    assert_eq!(
        header(res.headers(), "cache-control").as_deref(),
        Some("no-store"),
        "a body carrying a token is never cached"
    );
    let body = json_of(res).await;
    assert_eq!(body["user"], "bob");
    assert_eq!(body["session_id"].as_str().unwrap().len(), 22);
    let token = body["token"].as_str().expect("the new token").to_owned();
    assert_eq!(token.len(), 43);
    assert_ne!(token, first);

    let me = |token: String| {
        server
            .get("/api/me")
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    let res = me(token.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let me_body = json_of(res).await;
    assert_eq!(me_body["user"], "bob");
    assert_eq!(me_body["session_id"], body["session_id"]);
    assert_eq!(
        me(first.clone()).await.unwrap().status(),
        401,
        "rotated away"
    );
    let res = server.get("/api/me").session(&first).send().await.unwrap();
    assert_eq!(res.status(), 401, "dead as a cookie too");

    // A form post with a bearer token gets the token too, not a redirect that would lose it;
    // so does a bearer token the server does not know (login starts a new session).
    for presented in [token.as_str(), "not-a-token"] {
        let res = server
            .post("/login")
            .header("authorization", format!("Bearer {presented}"))
            .form(&[("username", "admin"), ("password", "admin-demo")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{presented}");
        assert!(session_set_cookie(res.headers()).is_none());
        assert_eq!(
            header(res.headers(), "cache-control").as_deref(),
            Some("no-store")
        );
        let issued = json_of(res).await["token"].as_str().unwrap().to_owned();
        let res = me(issued).await.unwrap();
        assert_eq!(json_of(res).await["user"], "admin", "{presented}");
    }
    assert_eq!(me(token).await.unwrap().status(), 401, "rotated away");
}

/// Every 401 from `/api/me` follows the layer's one challenge rule: no credential, an unknown
/// one, or one whose session expired.
#[tokio::test]
async fn every_401_carries_the_challenge() {
    const IDLE_MS: u64 = 1000;
    let layer =
        demo::session_layer(MemoryStore::default()).idle_timeout(Duration::from_millis(IDLE_MS));
    let server = serve(demo::app().layer(layer)).await;
    let invalid = r#"Bearer error="invalid_token""#;
    let get = |cookie: Option<&str>, bearer: Option<&str>| {
        let mut req = server.get("/api/me");
        if let Some(token) = cookie {
            req = req.session(token);
        }
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        req.send()
    };
    let unknown = "B".repeat(43);
    for (cookie, bearer, challenge) in [
        (None, None, "Bearer"),
        (Some(unknown.as_str()), None, "Bearer"),
        (Some("junk"), None, "Bearer"),
        (None, Some(unknown.as_str()), invalid),
        (None, Some("junk"), invalid),
    ] {
        let res = get(cookie, bearer).await.unwrap();
        assert_eq!(res.status(), 401, "{cookie:?} {bearer:?}");
        assert_eq!(
            header(res.headers(), "www-authenticate").as_deref(),
            Some(challenge),
            "{cookie:?} {bearer:?}"
        );
        assert_eq!(json_of(res).await, json!({"error": "unauthenticated"}));
    }

    let by_cookie = server.demo_login().await;
    let by_bearer = server.demo_login().await;
    sleep_past(now_ms() + IDLE_MS).await;
    for (cookie, bearer, challenge) in [
        (Some(by_cookie.as_str()), None, "Bearer"),
        (
            None,
            Some(by_bearer.as_str()),
            r#"Bearer error="invalid_token", error_description="the session has expired""#,
        ),
    ] {
        let res = get(cookie, bearer).await.unwrap();
        assert_eq!(res.status(), 401, "{cookie:?} {bearer:?}");
        assert_eq!(
            header(res.headers(), "www-authenticate").as_deref(),
            Some(challenge),
            "{cookie:?} {bearer:?}"
        );
        assert_eq!(json_of(res).await, json!({"error": "session_expired"}));
    }
}
