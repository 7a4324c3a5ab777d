//! The `WWW-Authenticate` challenge on the `Authenticated` extractor's 401s, over real HTTP on
//! loopback: one rule for a request with no credential, an invalid one, or one whose session
//! has expired. Only a bearer token earns an error code; a cookie-only layer challenges no one.

mod common;

use std::time::Duration;

use common::wait::{now_ms, sleep_past};
use common::{header, routes, serve, set_cookie, Server, WithSession};
use sessionward::store::MemoryStore;
use sessionward::SessionLayer;

const IDLE_MS: u64 = 1000;
const INVALID: &str = r#"Bearer error="invalid_token""#;
const EXPIRED: &str =
    r#"Bearer error="invalid_token", error_description="the session has expired""#;

async fn server(bearer: bool) -> Server {
    let layer = SessionLayer::new(MemoryStore::default())
        .idle_timeout(Duration::from_millis(IDLE_MS))
        .bearer(bearer);
    serve(routes::app().layer(layer)).await
}

/// Signs `user` in and returns the token (as a cookie: the login sends no credential).
async fn login(server: &Server, user: &str) -> String {
    let res = server.post(&format!("/login/{user}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    set_cookie(res.headers()).expect("login sets the cookie")
}

/// `GET /me` as `how` presents `token`: the status, error body and challenge.
async fn me(server: &Server, how: &str, token: &str) -> (u16, String, Option<String>) {
    let req = server.get("/me");
    let req = match how {
        "nothing" => req,
        "cookie" => req.session(token),
        "bearer" => req.header("authorization", format!("Bearer {token}")),
        other => unreachable!("{other}"),
    };
    let res = req.send().await.unwrap();
    let challenge = header(res.headers(), "www-authenticate");
    (res.status().as_u16(), res.text().await.unwrap(), challenge)
}

const UNAUTHENTICATED: &str = r#"{"error":"unauthenticated"}"#;
const SESSION_EXPIRED: &str = r#"{"error":"session_expired"}"#;

#[tokio::test]
async fn invalid_and_missing_credentials_get_the_same_challenge_rules() {
    let server = server(true).await;
    let unknown = "B".repeat(43);
    let anonymous = {
        let res = server.post("/set/a/b").send().await.unwrap();
        set_cookie(res.headers()).unwrap()
    };
    for (how, token, challenge) in [
        ("nothing", "", "Bearer"),
        ("cookie", unknown.as_str(), "Bearer"),
        ("cookie", "junk", "Bearer"),
        ("cookie", anonymous.as_str(), "Bearer"),
        ("bearer", unknown.as_str(), INVALID),
        ("bearer", "junk", INVALID),
        ("bearer", anonymous.as_str(), INVALID),
    ] {
        assert_eq!(
            me(&server, how, token).await,
            (401, UNAUTHENTICATED.to_owned(), Some(challenge.to_owned())),
            "{how} {token:?}"
        );
    }
}

#[tokio::test]
async fn expired_sessions_get_the_same_challenge_rules() {
    let server = server(true).await;
    let by_cookie = login(&server, "alice").await;
    let by_bearer = login(&server, "bob").await;
    // Both idle deadlines are at most this.
    sleep_past(now_ms() + IDLE_MS).await;
    assert_eq!(
        me(&server, "cookie", &by_cookie).await,
        (401, SESSION_EXPIRED.to_owned(), Some("Bearer".to_owned())),
        "an expired cookie: the challenge of a request without a credential"
    );
    assert_eq!(
        me(&server, "bearer", &by_bearer).await,
        (401, SESSION_EXPIRED.to_owned(), Some(EXPIRED.to_owned())),
    );
    // Deleted on first sight: from now on they are unknown tokens, with the same challenges.
    assert_eq!(
        me(&server, "cookie", &by_cookie).await,
        (401, UNAUTHENTICATED.to_owned(), Some("Bearer".to_owned())),
    );
    assert_eq!(
        me(&server, "bearer", &by_bearer).await,
        (401, UNAUTHENTICATED.to_owned(), Some(INVALID.to_owned())),
    );
}

#[tokio::test]
async fn a_cookie_only_layer_challenges_no_one() {
    let server = server(false).await;
    let expired = login(&server, "alice").await;
    sleep_past(now_ms() + IDLE_MS).await;
    assert_eq!(
        me(&server, "cookie", &expired).await,
        (401, SESSION_EXPIRED.to_owned(), None)
    );
    let valid = login(&server, "bob").await;
    for (how, token) in [
        ("nothing", ""),
        ("cookie", "B".repeat(43).as_str()),
        ("cookie", "junk"),
        // Not read at all: the same as sending nothing.
        ("bearer", valid.as_str()),
    ] {
        assert_eq!(
            me(&server, how, token).await,
            (401, UNAUTHENTICATED.to_owned(), None),
            "{how} {token:?}"
        );
    }
    assert_eq!(me(&server, "cookie", &valid).await.0, 200);
}
