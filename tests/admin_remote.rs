//! The demo's routes for other servers (docs/demo-http.md, "Remote revocation"): absent
//! without `SESSIONWARD_REMOTE_SECRET`, 403 without the secret, and with it they end one or
//! all sessions of a user, or all but one.

mod common;

mod admin_support;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use std::time::Duration;

use admin_support::{demo_server, insert, login, session_id, signed_in, SECRET};
use common::Server;
use serde_json::{json, Value};
use sessionward::admin::RemoteRouter;
use sessionward::store::{MemoryStore, SessionStore};

fn remote(
    server: &Server,
    path: &str,
    secret: Option<&str>,
    body: Value,
) -> reqwest::RequestBuilder {
    let req = server.post(path).json(&body);
    match secret {
        Some(secret) => req.header("x-sessionward-secret", secret),
        None => req,
    }
}

async fn answer(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn without_a_secret_configured_the_routes_do_not_exist() {
    let server = demo_server(MemoryStore::default(), None).await;
    let alice = login(&server, "alice").await;
    for path in ["/remote/users/alice/revoke", "/remote/users/alice/keep"] {
        for secret in [None, Some(SECRET), Some("")] {
            let (status, body) = answer(remote(&server, path, secret, json!({}))).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(body, json!({"error": "not_found"}));
        }
    }
    assert!(signed_in(&server, &alice).await);
}

#[tokio::test]
async fn a_missing_or_wrong_secret_is_403() {
    let server = demo_server(MemoryStore::default(), Some(SECRET)).await;
    let alice = login(&server, "alice").await;
    let longer = format!("{SECRET}x");
    let mut last_byte = SECRET.to_owned();
    last_byte.pop();
    last_byte.push('!');
    let wrong = [
        None,
        Some(""),
        Some("wrong"),
        Some(&SECRET[..SECRET.len() - 1]),
        Some(longer.as_str()),
        Some(last_byte.as_str()),
    ];
    for path in ["/remote/users/alice/revoke", "/remote/users/alice/keep"] {
        for secret in wrong {
            let (status, body) = answer(remote(&server, path, secret, json!({}))).await;
            assert_eq!(status, 403, "{path} {secret:?}");
            assert_eq!(body, json!({"error": "forbidden"}));
        }
    }
    // An admin session is no substitute for the secret.
    let admin = login(&server, "admin").await;
    let req = remote(&server, "/remote/users/alice/revoke", None, json!({}));
    let (status, _) = answer(common::WithSession::session(req, &admin)).await;
    assert_eq!(status, 403);
    assert!(signed_in(&server, &alice).await, "nothing was revoked");
}

#[tokio::test]
async fn the_secret_ends_one_or_all_sessions_of_a_user() {
    let server = demo_server(MemoryStore::default(), Some(SECRET)).await;
    let alices = [
        login(&server, "alice").await,
        login(&server, "alice").await,
        login(&server, "alice").await,
    ];
    let bob = login(&server, "bob").await;
    let path = "/remote/users/alice/revoke";

    let id = session_id(&server, &alices[0]).await;
    let (status, body) = answer(remote(
        &server,
        path,
        Some(SECRET),
        json!({"session_id": id}),
    ))
    .await;
    assert_eq!((status, body), (200, json!({"revoked": 1})));
    assert!(!signed_in(&server, &alices[0]).await);
    assert!(signed_in(&server, &alices[1]).await);

    // Another user's session, an unknown or a malformed id: nothing to end.
    let bobs_id = session_id(&server, &bob).await;
    for other in [bobs_id.as_str(), id.as_str(), "not-an-id"] {
        let (status, body) = answer(remote(
            &server,
            path,
            Some(SECRET),
            json!({"session_id": other}),
        ))
        .await;
        assert_eq!((status, body), (200, json!({"revoked": 0})), "{other}");
    }
    assert!(signed_in(&server, &bob).await);

    let (status, body) = answer(remote(&server, path, Some(SECRET), json!({}))).await;
    assert_eq!((status, body), (200, json!({"revoked": 2})));
    assert!(!signed_in(&server, &alices[1]).await);
    assert!(!signed_in(&server, &alices[2]).await);
    assert!(signed_in(&server, &bob).await);

    let (status, body) = answer(remote(&server, path, Some(SECRET), json!([]))).await;
    assert_eq!((status, body), (400, json!({"error": "invalid_body"})));
    let huge = json!({ "session_id": "x".repeat(5000) });
    let (status, body) = answer(remote(&server, path, Some(SECRET), huge)).await;
    assert_eq!((status, body), (413, json!({"error": "too_large"})));
}

#[tokio::test]
async fn the_secret_keeps_one_session_and_ends_the_others() {
    let store = MemoryStore::default();
    let server = demo_server(store.clone(), Some(SECRET)).await;
    let older = login(&server, "bob").await;
    let newer = login(&server, "bob").await;
    let alice = login(&server, "alice").await;
    let path = "/remote/users/bob/keep";
    let alices_id = session_id(&server, &alice).await;
    let (status, body) = answer(remote(
        &server,
        path,
        Some(SECRET),
        json!({"session_id": alices_id}),
    ))
    .await;
    assert_eq!((status, body), (404, json!({"error": "not_found"})));

    let id = session_id(&server, &older).await;
    let (status, body) = answer(remote(
        &server,
        path,
        Some(SECRET),
        json!({"session_id": id}),
    ))
    .await;
    assert_eq!((status, body), (200, json!({"kept": id, "revoked": 1})));
    assert!(signed_in(&server, &older).await);
    assert!(!signed_in(&server, &newer).await);

    // Without an id, the newest is kept: `older` is now bob's newest, ahead of one from an
    // hour before (stores keep milliseconds: two logins in one would tie).
    let (hour_old, _) = insert(&store, Some("bob"), Duration::from_secs(3600), |_| {}).await;
    let (status, body) = answer(remote(&server, path, Some(SECRET), json!({}))).await;
    assert_eq!((status, body), (200, json!({"kept": id, "revoked": 1})));
    assert!(signed_in(&server, &older).await);
    assert_eq!(store.load(&hour_old).await.unwrap(), None);
    assert!(signed_in(&server, &alice).await);
}

#[test]
fn a_short_secret_is_refused() {
    assert!(RemoteRouter::new(MemoryStore::default(), "too short").is_err());
    assert!(RemoteRouter::new(MemoryStore::default(), "").is_err());
    assert!(RemoteRouter::new(MemoryStore::default(), [7u8; 16]).is_ok());
}
