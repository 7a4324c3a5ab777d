//! Concurrent requests on one session, over real HTTP on loopback.

mod common;

use std::time::Duration;

use axum::Extension;
use common::gate::Gate;
use common::{routes, serve, set_cookie, Server, WithSession};
use reqwest::Response;
use sessionward::store::MemoryStore;
use sessionward::SessionLayer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_setting_different_keys_all_keep_their_value() {
    let store = MemoryStore::default();
    let server = serve(routes::app().layer(SessionLayer::new(store.clone()))).await;
    let res = server.post("/set/seed/0").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();

    let mut requests = tokio::task::JoinSet::new();
    for i in 0..32 {
        let (client, url, token) = (
            server.client.clone(),
            server.url(&format!("/set/k{i}/v{i}")),
            token.clone(),
        );
        requests.spawn(async move {
            client
                .post(url)
                .session(&token)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), 204);
    }
    for i in 0..32 {
        let res = server
            .get(&format!("/get/k{i}"))
            .session(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.text().await.unwrap(),
            format!("v{i}"),
            "key k{i} survived the race"
        );
    }
    let res = server
        .get("/get/seed")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "0");
}

/// A server over `store` whose gated routes pause at `gate`.
async fn gated_server(store: &MemoryStore, gate: &Gate) -> Server {
    serve(
        routes::app()
            .layer(SessionLayer::new(store.clone()))
            .layer(Extension(gate.clone())),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_wins_over_an_in_flight_write() {
    let (store, gate) = (MemoryStore::default(), Gate::default());
    let server = gated_server(&store, &gate).await;
    let res = server.post("/login/alice").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();

    // /gated-set has loaded the session when it reaches the gate; logout lands before it
    // writes.
    let write = in_flight(&server, "/gated-set/late/1", &token);
    gate.reached().await;
    let res = server.post("/logout").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    gate.open();
    let write = finished(write).await;
    assert_eq!(write.status(), 204);
    assert!(
        set_cookie(write.headers()).is_none(),
        "the late write does not issue a cookie"
    );

    assert!(
        store.is_empty(),
        "the late write did not resurrect the session"
    );
    let res = server.get("/me").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = server
        .get("/get/late")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "none");
}

/// Sends `path` with `token` in the background, so a logout can land while the request is
/// paused at its gate.
fn in_flight(server: &Server, path: &str, token: &str) -> tokio::task::JoinHandle<Response> {
    let (client, url, token) = (server.client.clone(), server.url(path), token.to_owned());
    tokio::spawn(async move { client.post(url).session(&token).send().await.unwrap() })
}

async fn finished(request: tokio::task::JoinHandle<Response>) -> Response {
    tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("the in-flight request finishes")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_rotate_on_a_session_ended_meanwhile() {
    let (store, gate) = (MemoryStore::default(), Gate::default());
    let server = gated_server(&store, &gate).await;

    // A login whose session is logged out while it is paused signs in on a fresh session,
    // with the data the request saw.
    let res = server.post("/set/theme/dark").send().await.unwrap();
    let anonymous = set_cookie(res.headers()).unwrap();
    let login = in_flight(&server, "/gated-login/alice", &anonymous);
    gate.reached().await;
    let res = server
        .post("/logout")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    gate.open();
    let res = finished(login).await;
    assert_eq!(res.status(), 200);
    let alice = set_cookie(res.headers()).expect("the login sets a cookie");
    assert_ne!(alice, anonymous);
    assert_eq!(
        res.text().await.unwrap(),
        alice,
        "the issued token is the cookie's"
    );
    let res = server.get("/me").session(&alice).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "alice");
    let res = server
        .get("/get/theme")
        .session(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "dark");
    let res = server.get("/me").session(&anonymous).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(store.len(), 1, "alice's session only");

    // A rotation whose session is logged out while it is paused issues nothing.
    let res = server.post("/login/bob").send().await.unwrap();
    let bob = set_cookie(res.headers()).unwrap();
    let rotate = in_flight(&server, "/gated-rotate", &bob);
    gate.reached().await;
    let res = server.post("/logout").session(&bob).send().await.unwrap();
    assert_eq!(res.status(), 204);
    gate.open();
    let res = finished(rotate).await;
    assert_eq!(res.status(), 200);
    assert!(
        set_cookie(res.headers()).is_none(),
        "no token for an ended session"
    );
    assert_eq!(res.text().await.unwrap(), "");
    let res = server.get("/me").session(&bob).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(store.len(), 1, "bob's session is not resurrected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_get_distinct_sessions() {
    let store = MemoryStore::default();
    let server = serve(routes::app().layer(SessionLayer::new(store.clone()))).await;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (client, url) = (server.client.clone(), server.url(&format!("/set/n/{i}")));
        requests.spawn(async move {
            let res = client.post(url).send().await.unwrap();
            (i, set_cookie(res.headers()).unwrap())
        });
    }
    let mut tokens = std::collections::HashSet::new();
    while let Some(done) = requests.join_next().await {
        let (i, token) = done.unwrap();
        let res = server.get("/get/n").session(&token).send().await.unwrap();
        assert_eq!(res.text().await.unwrap(), i.to_string());
        assert!(tokens.insert(token));
    }
    assert_eq!(store.len(), 50);
}
