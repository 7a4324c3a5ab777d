//! The layer's bounds: session data limits (keys and bytes) and timeouts far past any clock.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::{routes, serve, set_cookie, Server, WithSession};
use sessionward::store::MemoryStore;
use sessionward::{CookieConfig, Session, SessionConfig, SessionError, SessionLayer};

/// `/set-many/{prefix}/{n}/{len}` sets `n` keys `{prefix}{i}` to strings of `len` bytes in one
/// `insert_all`.
fn app() -> Router {
    async fn set_many(
        session: Session,
        Path((prefix, n, len)): Path<(String, usize, usize)>,
    ) -> Result<StatusCode, SessionError> {
        let value = "x".repeat(len);
        session
            .insert_all((0..n).map(|i| (format!("{prefix}{i}"), &value)))
            .await?;
        Ok(StatusCode::NO_CONTENT)
    }
    routes::app().route("/set-many/{prefix}/{n}/{len}", post(set_many))
}

async fn limited(keys: usize, bytes: usize) -> (Server, MemoryStore) {
    let store = MemoryStore::default();
    let layer = SessionLayer::new(store.clone())
        .max_data_keys(keys)
        .max_data_bytes(bytes);
    (serve(app().layer(layer)).await, store)
}

async fn get(server: &Server, token: &str, key: &str) -> String {
    let res = server
        .get(&format!("/get/{key}"))
        .session(token)
        .send()
        .await
        .unwrap();
    res.text().await.unwrap()
}

async fn assert_too_large(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 413, "{what}");
    assert!(set_cookie(res.headers()).is_none(), "{what}: no cookie");
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"error":"session_data_too_large"}"#,
        "{what}"
    );
}

#[tokio::test]
async fn a_session_holds_at_most_the_configured_keys() {
    let (server, _) = limited(3, 10_000).await;
    let res = server.post("/set/a/1").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();
    for key in ["b", "c"] {
        let res = server
            .post(&format!("/set/{key}/1"))
            .session(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    let res = server
        .post("/set/d/1")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_too_large(res, "a fourth key").await;
    assert_eq!(get(&server, &token, "d").await, "none", "nothing stored");

    // At the limit, an existing key can still change, and removing makes room.
    let res = server
        .post("/set/a/2")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "replacing a key adds none");
    assert_eq!(get(&server, &token, "a").await, "2");
    let res = server
        .post("/remove/b")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "1");
    let res = server
        .post("/set/d/1")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "room after a removal");
    for (key, value) in [("a", "2"), ("b", "none"), ("c", "1"), ("d", "1")] {
        assert_eq!(get(&server, &token, key).await, value, "key {key}");
    }
}

#[tokio::test]
async fn a_session_holds_at_most_the_configured_bytes() {
    // Key and JSON text count: "k0" + "\"xxxxxxxx\"" is 2 + 10 = 12 bytes.
    let (server, store) = limited(100, 36).await;
    let res = server.post("/set-many/k/3/8").send().await.unwrap();
    assert_eq!(res.status(), 204, "exactly 36 bytes fit");
    let token = set_cookie(res.headers()).unwrap();
    let res = server
        .post("/set-many/z/1/0")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_too_large(res, "one byte more").await;

    // A new session is held to the limit on its very first write, and is then not stored.
    let res = server.post("/set-many/k/4/8").send().await.unwrap();
    assert_too_large(res, "a new session over the limit").await;
    assert_eq!(store.len(), 1, "the refused session was not stored");
}

#[tokio::test]
async fn insert_all_stores_every_key_or_none() {
    let (server, _) = limited(5, 10_000).await;
    let res = server.post("/set-many/a/3/1").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();
    let res = server
        .post("/set-many/b/3/1")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_too_large(res, "six keys").await;
    for key in ["b0", "b1", "b2"] {
        assert_eq!(get(&server, &token, key).await, "none", "{key} not stored");
    }
    let res = server
        .post("/set-many/a/5/1")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        204,
        "three existing keys and two new ones fit"
    );
    assert_eq!(get(&server, &token, "a4").await, "x");
}

/// A write in the same request as reads sees its own changes, and the data written reaches the
/// store as the request saw it (reads go through the request's pending changes).
#[tokio::test]
async fn a_request_reads_its_own_writes_on_a_stored_session() {
    async fn swap(session: Session) -> Result<String, SessionError> {
        let a: String = session.get("a").await?.unwrap_or_default();
        session.insert("a", "changed").await?;
        let now: String = session.get("a").await?.unwrap_or_default();
        let removed: Option<String> = session.remove("b").await?;
        let gone: Option<String> = session.get("b").await?;
        let snapshot = session.record().await?.unwrap();
        Ok(format!(
            "{a} {now} {removed:?} {gone:?} {}",
            snapshot.data.len()
        ))
    }
    let store = MemoryStore::default();
    let server = serve(
        app()
            .route("/swap", post(swap))
            .layer(SessionLayer::new(store)),
    )
    .await;
    let res = server.post("/set/a/before").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();
    server
        .post("/set/b/1")
        .session(&token)
        .send()
        .await
        .unwrap();
    let res = server.post("/swap").session(&token).send().await.unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        r#"before changed Some("1") None 1"#
    );
    assert_eq!(get(&server, &token, "a").await, "changed");
    assert_eq!(get(&server, &token, "b").await, "none");
}

fn ms(at: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(at)
}

/// `Duration::MAX` means "no limit": it is capped at `SessionConfig::MAX_TIMEOUT`, and new
/// sessions, logins and renewals work instead of panicking on `SystemTime` overflow.
#[tokio::test]
async fn huge_timeouts_are_capped_not_a_panic() {
    for (idle, absolute) in [
        (Duration::MAX, Duration::MAX),
        (Duration::from_secs(60), Duration::MAX),
        (Duration::MAX, Duration::from_secs(3600)),
    ] {
        let layer = SessionLayer::new(MemoryStore::default())
            .idle_timeout(idle)
            .absolute_timeout(absolute)
            .cookie(CookieConfig::default().persistent(true));
        let config = layer.config();
        assert!(config.idle_timeout() <= SessionConfig::MAX_TIMEOUT);
        assert!(config.absolute_timeout() <= SessionConfig::MAX_TIMEOUT);
        let server = serve(routes::app().layer(layer)).await;
        let before = SystemTime::now();
        let res = server.post("/set/k/v").send().await.unwrap();
        assert_eq!(res.status(), 204, "{idle:?} {absolute:?}: a new session");
        let anonymous = set_cookie(res.headers()).unwrap();
        let res = server
            .post("/login/alice")
            .session(&anonymous)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{idle:?} {absolute:?}: login");
        let token = set_cookie(res.headers()).unwrap();
        let res = server
            .get("/describe")
            .session(&token)
            .send()
            .await
            .unwrap();
        let described: serde_json::Value = res.json().await.unwrap();
        let expires = ms(described["expires_at"].as_u64().unwrap());
        let cap = before + idle.min(absolute).min(SessionConfig::MAX_TIMEOUT);
        assert!(
            expires >= cap - Duration::from_secs(1),
            "{idle:?} {absolute:?}"
        );
        assert!(
            expires <= SystemTime::now() + SessionConfig::MAX_TIMEOUT,
            "{idle:?} {absolute:?}"
        );
        assert_eq!(get(&server, &token, "k").await, "v");
    }
}
