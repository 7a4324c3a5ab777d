//! Concurrent requests on one session, over real HTTP on loopback.

mod common;

use std::time::Duration;

use common::{routes, serve, set_cookie, WithSession};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_wins_over_an_in_flight_write() {
    let store = MemoryStore::default();
    let server = serve(routes::app().layer(SessionLayer::new(store.clone()))).await;
    let res = server.post("/login/alice").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();

    // /slow-set loads the session, waits 300 ms, then writes; logout lands in between.
    let slow = {
        let (client, url, token) = (
            server.client.clone(),
            server.url("/slow-set/late/1"),
            token.clone(),
        );
        tokio::spawn(async move { client.post(url).session(&token).send().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let res = server.post("/logout").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let slow = slow.await.unwrap();
    assert_eq!(slow.status(), 204);
    assert!(
        set_cookie(slow.headers()).is_none(),
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
