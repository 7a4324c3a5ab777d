//! Bad input never gives a 5xx or a panic: it is "no session" (401 on protected routes) or 400.

mod common;

use common::{routes, serve, set_cookie, Server, COOKIE};
use reqwest::header::HeaderValue;
use sessionward::store::MemoryStore;
use sessionward::SessionLayer;

/// A server with one signed-in session; returns the server and its valid token.
async fn setup() -> (Server, String, MemoryStore) {
    let store = MemoryStore::default();
    let server = serve(routes::app().layer(SessionLayer::new(store.clone()))).await;
    let res = server.post("/login/alice").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();
    (server, token, store)
}

/// Sends `header: value` to a protected and to an open route; both must refuse the session
/// without a 5xx, and the store must be untouched.
async fn assert_no_session(
    server: &Server,
    store: &MemoryStore,
    name: &str,
    value: &[u8],
    what: &str,
) {
    let before = store.len();
    for (path, ok) in [("/me", 401), ("/get/k", 200)] {
        let res = server
            .get(path)
            .header(name, HeaderValue::from_bytes(value).unwrap())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert!(
            status == ok || status == 400,
            "{what}: {path} answered {status}"
        );
        if status == 200 {
            assert_eq!(
                res.text().await.unwrap(),
                "none",
                "{what}: no session on {path}"
            );
        }
    }
    // A write with the bad credential starts a fresh session; it never reuses the bad one.
    let res = server
        .post("/set/k/v")
        .header(name, HeaderValue::from_bytes(value).unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        res.status().as_u16() < 500,
        "{what}: write answered {}",
        res.status()
    );
    assert!(store.len() <= before + 1, "{what}");
}

#[tokio::test]
async fn malformed_cookies_are_no_session() {
    let (server, token, store) = setup().await;
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("garbage".into(), format!("{COOKIE}=%%%$$$!!!").into_bytes()),
        (
            "non-UTF-8 bytes".into(),
            [format!("{COOKIE}=").as_bytes(), b"\xff\xfe\xfd\x80"].concat(),
        ),
        (
            "10 KB cookie".into(),
            format!("{COOKIE}={}", "a".repeat(10 * 1024)).into_bytes(),
        ),
        (
            "token plus junk".into(),
            format!("{COOKIE}={token}x").into_bytes(),
        ),
        (
            "quoted token".into(),
            format!("{COOKIE}=\"{}\"", &token[..41]).into_bytes(),
        ),
        (
            "two session cookies".into(),
            format!("{COOKIE}={token}; {COOKIE}={token}").into_bytes(),
        ),
        ("empty value".into(), format!("{COOKIE}=").into_bytes()),
        ("no equals sign".into(), COOKIE.as_bytes().to_vec()),
        ("separators only".into(), b";;;; ;=;=".to_vec()),
        (
            "unknown token".into(),
            format!("{COOKIE}={}", "Q".repeat(43)).into_bytes(),
        ),
    ];
    for (what, value) in cases {
        assert_no_session(&server, &store, "cookie", &value, &what).await;
    }
}

#[tokio::test]
async fn malformed_authorization_is_no_session() {
    let (server, token, store) = setup().await;
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("Bearer junk".into(), b"Bearer !!!junk!!!".to_vec()),
        ("Bearer nothing".into(), b"Bearer ".to_vec()),
        (
            "20 KB header".into(),
            format!("Bearer {}", "a".repeat(20 * 1024)).into_bytes(),
        ),
        (
            "token with a suffix".into(),
            format!("Bearer {token}.x").into_bytes(),
        ),
        ("non-UTF-8".into(), b"Bearer \xff\xff\xff".to_vec()),
        (
            "unknown token".into(),
            format!("Bearer {}", "Q".repeat(43)).into_bytes(),
        ),
    ];
    for (what, value) in cases {
        assert_no_session(&server, &store, "authorization", &value, &what).await;
    }
    // Two Authorization headers are ambiguous, even when both carry the valid token.
    let res = server
        .get("/me")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Another scheme is the app's business: the cookie still counts.
    let res = server
        .get("/me")
        .header("authorization", "Basic YWxpY2U6d29uZGVybGFuZA==")
        .header("cookie", format!("{COOKIE}={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "alice");
}

#[tokio::test]
async fn a_valid_session_survives_other_junk_cookies() {
    let (server, token, _) = setup().await;
    // Bytes that are not even UTF-8 in someone else's cookie do not hide ours.
    let res = server
        .get("/me")
        .header(
            "cookie",
            HeaderValue::from_bytes(
                &[
                    b"x=\xff\xfe; ".as_slice(),
                    format!("{COOKIE}={token}").as_bytes(),
                ]
                .concat(),
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "alice");
    let res = server
        .get("/me")
        .header(
            "cookie",
            format!("a=b; junk; {COOKIE}={token}; theme=caf\u{e9}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "alice");
}
