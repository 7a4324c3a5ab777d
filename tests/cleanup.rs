//! The background cleanup task purges expired sessions from the store.

mod common;

use std::time::{Duration, SystemTime};

use common::wait::eventually;
use common::{routes, serve, set_cookie, FlakyStore, WithSession};
use sessionward::store::conformance::sample;
use sessionward::store::{spawn_cleanup, MemoryStore, SessionStore};
use sessionward::token::SessionToken;
use sessionward::SessionLayer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_task_purges_expired_sessions_and_keeps_live_ones() {
    let store = MemoryStore::default();
    // The default timeouts (30 min idle, 8 h absolute): the live sessions outlast any delay.
    let server = serve(routes::app().layer(SessionLayer::new(store.clone()))).await;
    let res = server.post("/login/alice").send().await.unwrap();
    let alice = set_cookie(res.headers()).unwrap();
    let res = server.post("/set/n/1").send().await.unwrap();
    let anonymous = set_cookie(res.headers()).unwrap();

    // Sessions that ended before the test began, by their idle or their absolute deadline,
    // signed in or not. The test knows their tokens but presents none of them before the
    // task ran: a request would delete an expired session itself.
    let now = SystemTime::now();
    let mut expired = Vec::new();
    for i in 0..4 {
        let token = SessionToken::parse(format!("{:x<43}", format!("expired{i}")).as_bytes())
            .expect("a well-formed token");
        let user = (i % 2 == 0).then_some("carol");
        let (_, mut record) = sample(user, Duration::from_secs(7200));
        if i < 2 {
            record.idle_expires_at = now - Duration::from_secs(1);
        } else {
            record.expires_at = now - Duration::from_secs(1);
        }
        store.create(&token.hash(), record).await.unwrap();
        expired.push(token.to_text());
    }
    assert_eq!(store.len(), 6, "expired sessions stay until purged");

    // The wrapper counts the task's passes (the layer uses the store directly).
    let passes = FlakyStore::wrap(store.clone());
    let cleanup = spawn_cleanup(passes.clone(), Duration::from_millis(20));
    eventually("the task purges the four expired sessions", || async {
        store.len() <= 2
    })
    .await;
    assert_eq!(store.len(), 2, "the live sessions are kept");
    // A pass is over once the next one starts (the task runs them one after another): the
    // live sessions also outlast a full pass after the purge.
    let seen = passes.calls();
    eventually("the task runs another full pass", || async {
        passes.calls() >= seen + 2
    })
    .await;
    cleanup.abort();
    assert_eq!(store.len(), 2, "the live sessions are kept");

    let res = server.get("/me").session(&alice).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "alice");
    let res = server
        .get("/get/n")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "1");
    for token in &expired {
        let res = server.get("/me").session(token).send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.text().await.unwrap(),
            r#"{"error":"unauthenticated"}"#,
            "the session is gone, not merely expired"
        );
    }
}

/// The memory store purges a few thousand sessions per hold of its lock; a purge of many
/// batches still takes every expired session and keeps every live one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_of_many_batches_takes_every_expired_session_and_keeps_the_live_ones() {
    let store = MemoryStore::default();
    let now = SystemTime::now();
    let mut live = Vec::new();
    for i in 0..20_000u32 {
        let user = (i % 5 == 0).then(|| format!("user-{}", i % 13));
        let (key, mut record) = sample(user.as_deref(), Duration::from_secs(60));
        if i % 2 == 0 {
            record.idle_expires_at = now - Duration::from_secs(1);
        } else {
            live.push(key);
        }
        store.create(&key, record).await.unwrap();
    }
    assert_eq!(store.delete_expired(now).await.unwrap(), 10_000);
    assert_eq!(store.len(), 10_000);
    for key in &live {
        assert!(
            store.load(key).await.unwrap().is_some(),
            "a live session is kept"
        );
    }
    assert_eq!(
        store.delete_expired(now).await.unwrap(),
        0,
        "nothing left to purge"
    );
}
