//! A failing store gives 503 with a JSON body, leaves the cookie alone and loses nothing.

mod common;

use common::{routes, serve, session_set_cookie, set_cookie, FlakyStore, WithSession};
use sessionward::SessionLayer;

#[tokio::test]
async fn store_failure_is_503_and_recovers() {
    failure_is_503_and_recovers(FlakyStore::default()).await;
}

/// The same through `load_now`, `create_now` and `update_now`, the layer's path for a store that
/// answers without waiting (as the memory store does).
#[tokio::test]
async fn failure_of_a_store_answering_at_once_is_503_and_recovers() {
    failure_is_503_and_recovers(FlakyStore::default().answering_at_once()).await;
}

async fn failure_is_503_and_recovers(store: FlakyStore) {
    let server = serve(routes::app().layer(SessionLayer::new(store.clone()))).await;
    let res = server.post("/login/alice").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();
    let res = server
        .post("/set/k/kept")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    store.set_down(true);
    for (method, path) in [
        ("GET", "/me"),
        ("GET", "/get/k"),
        ("POST", "/set/k/lost"),
        ("POST", "/logout"),
        ("POST", "/login/bob"),
        ("POST", "/rotate"),
    ] {
        let req = if method == "GET" {
            server.get(path)
        } else {
            server.post(path)
        };
        let res = req.session(&token).send().await.unwrap();
        assert_eq!(res.status(), 503, "{method} {path}");
        assert!(
            session_set_cookie(res.headers()).is_none(),
            "{method} {path}: cookie left alone"
        );
        assert_eq!(
            res.text().await.unwrap(),
            r#"{"error":"session_store_unavailable"}"#
        );
    }
    // A new visitor's first write fails too, rather than claiming a session that was not saved.
    let res = server.post("/set/k/v").send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(session_set_cookie(res.headers()).is_none());
    // Routes that never touch the session keep working.
    let res = server
        .get("/untouched")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    store.set_down(false);
    let res = server.get("/me").session(&token).send().await.unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "alice",
        "the session survived the outage"
    );
    let res = server.get("/get/k").session(&token).send().await.unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "kept",
        "nothing was lost or half-written"
    );
}
