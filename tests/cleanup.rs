//! The background cleanup task purges expired sessions from the store.

mod common;

use std::time::Duration;

use common::{routes, serve, set_cookie, WithSession};
use sessionward::store::{spawn_cleanup, MemoryStore};
use sessionward::SessionLayer;

#[tokio::test]
async fn cleanup_task_purges_expired_sessions_and_keeps_live_ones() {
    let store = MemoryStore::default();
    let layer = SessionLayer::new(store.clone()).idle_timeout(Duration::from_millis(400));
    let server = serve(routes::app().layer(layer)).await;
    for i in 0..5 {
        server.post(&format!("/set/n/{i}")).send().await.unwrap();
    }
    let res = server.post("/login/alice").send().await.unwrap();
    let live = set_cookie(res.headers()).unwrap();
    assert_eq!(store.len(), 6);

    let cleanup = spawn_cleanup(store.clone(), Duration::from_millis(100));
    // Keep one session busy while the others go idle; renewal is written every 100 ms.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let res = server.get("/me").session(&live).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        store.len(),
        1,
        "the five idle sessions were purged without any request touching them"
    );
    cleanup.abort();
}
