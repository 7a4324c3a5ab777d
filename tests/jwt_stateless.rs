//! Stateless JWT access tokens in the layer, over real HTTP on loopback, on the memory store
//! wrapped to count its calls: a valid token authenticates with no store read; a session this
//! instance ends is refused here at once (by its denylist, still with no store read), also when
//! the denylist is full; another instance sharing the store keeps accepting the token until it
//! expires, and that is the mode's whole guarantee.

mod common;
mod jwt_layer_support;
mod jwt_stateless_support;

use std::time::{Duration, SystemTime};

use jwt_layer_support::{access_tokens, log_in};
use jwt_stateless_support::{stateless, Instance};
use sessionward::store::{MemoryStore, Overflow};
use sessionward::token::{BearerMode, InvalidToken};
use sessionward::SessionId;

#[tokio::test]
async fn a_valid_token_authenticates_with_no_store_read() {
    let server = Instance::stateless(MemoryStore::default(), 16).await;
    let alice = log_in(&server.server, "alice").await;

    for _ in 0..3 {
        server
            .assert_accepted(&alice.jwt, "alice", "Authenticated")
            .await;
    }
    let (status, body, calls) = server.get("/whoami", &alice.jwt).await;
    assert_eq!((status, calls), (200, 0));
    assert_eq!(body["sid"], alice.sid.as_str());
    let (status, body, calls) = server.get("/ids", &alice.jwt).await;
    assert_eq!((status, calls), (200, 0), "Session::user and Session::id");
    assert_eq!(
        (body["user"].as_str(), body["sid"].as_str()),
        (Some("alice"), Some(alice.sid.as_str()))
    );

    // The proof that nothing is read: with the store down, authentication still works, and
    // only what needs the record fails (503).
    server.store.set_down(true);
    server
        .assert_accepted(&alice.jwt, "alice", "the store is down")
        .await;
    assert_eq!(server.get("/record", &alice.jwt).await.0, 503);
    server.store.set_down(false);

    // The record, when a handler asks for it: one read, by the token's sid.
    let (status, body, calls) = server.get("/record", &alice.jwt).await;
    assert_eq!((status, calls), (200, 1), "one read for the record");
    assert_eq!(body["sid"], alice.sid.as_str());
    assert!(body["expires_at"].as_u64() > body["created_at"].as_u64());

    // Data written through the token reaches the session.
    let res = server
        .server
        .put("/n")
        .bearer_auth(&alice.jwt)
        .json(&5)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, body, calls) = server.get("/me", &alice.jwt).await;
    assert_eq!((status, body["n"].as_i64(), calls), (200, Some(5), 1));
    assert!(server.refusals().await.is_empty());
}

#[tokio::test]
async fn a_logout_here_refuses_the_token_here_at_once_with_no_store_read() {
    let server = Instance::stateless(MemoryStore::default(), 16).await;
    let alice = log_in(&server.server, "alice").await;
    server
        .assert_accepted(&alice.jwt, "alice", "before the logout")
        .await;
    assert_eq!(server.post("/logout", &alice.jwt).await.0, 204);
    server.refusals().await;

    server
        .assert_refused(&alice.jwt, 0, "the logged-out token, by the denylist")
        .await;
    assert_eq!(server.refusals().await, ["revoked"]);
    let (status, body, calls) = server.get("/ids", &alice.jwt).await;
    assert_eq!((status, calls), (200, 0));
    assert!(
        body["user"].is_null() && body["sid"].is_null(),
        "Session::user, Session::id: none"
    );

    // A logout through the opaque token denies the session's access tokens as well.
    let bob = log_in(&server.server, "bob").await;
    server
        .assert_accepted(&bob.jwt, "bob", "before the logout")
        .await;
    assert_eq!(server.post("/logout", &bob.token).await.0, 204);
    server
        .assert_refused(
            &bob.jwt,
            0,
            "the access token of a session logged out by its opaque token",
        )
        .await;
}

#[tokio::test]
async fn another_instance_accepts_the_token_until_it_expires() {
    let store = MemoryStore::default();
    // Two instances on one store and one key ring, each with its own denylist.
    let a = Instance::stateless(store.clone(), 16).await;
    let b = Instance::stateless(store, 16).await;
    let alice = log_in(&a.server, "alice").await;
    b.assert_accepted(&alice.jwt, "alice", "B accepts A's token")
        .await;

    assert_eq!(a.post("/logout", &alice.jwt).await.0, 204);
    a.assert_refused(&alice.jwt, 0, "A ended the session").await;

    // B never heard of the logout: the token still authenticates there, with no store read.
    b.assert_accepted(&alice.jwt, "alice", "B until the token expires")
        .await;
    // What reads the session finds it ended.
    assert_eq!(
        b.get("/record", &alice.jwt).await.0,
        401,
        "the record is gone"
    );
    // Nor can the token be swapped for a fresh one, which would outlive it.
    let (status, body) = b.post("/token", &alice.jwt).await;
    assert_eq!(status, 401, "{body}");
    b.assert_accepted(&alice.jwt, "alice", "still, until it expires")
        .await;

    // Until it expires, and no longer: `exp` is the lifetime after issue, and B verifies with
    // the same rule as `AccessTokens::verify` at a later time.
    let tokens = b.layer.config().access_tokens().unwrap();
    let claims = tokens.verify(&alice.jwt, SystemTime::now()).unwrap();
    assert_eq!(claims.exp - claims.iat, 5 * 60, "the default lifetime");
    let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(claims.iat);
    let leeway = Duration::from_secs(10);
    let last = issued + Duration::from_secs(5 * 60) + leeway;
    assert!(tokens.verify(&alice.jwt, last).is_ok());
    assert_eq!(
        tokens
            .verify(&alice.jwt, last + Duration::from_secs(1))
            .unwrap_err(),
        InvalidToken::Expired
    );
    // And over HTTP: a token of the same session issued that long ago is refused by B.
    let sid = SessionId::parse(&alice.sid).unwrap();
    let long_ago = SystemTime::now() - Duration::from_secs(5 * 60 + 10 + 2);
    let old = access_tokens().issue("alice", sid, long_ago).unwrap().token;
    b.refusals().await;
    b.assert_refused(&old, 0, "an expired token of the session")
        .await;
    assert_eq!(b.refusals().await, ["expired"]);

    // A logout on B through the token (its session ended already) denies it on B too.
    assert_eq!(b.post("/logout", &alice.jwt).await.0, 204);
    b.assert_refused(&alice.jwt, 0, "logged out on B as well")
        .await;
}

#[tokio::test]
async fn revocations_here_refuse_the_ended_sessions_tokens_here_at_once() {
    let server = Instance::stateless(MemoryStore::default(), 16).await;
    let phone = log_in(&server.server, "alice").await;
    let laptop = log_in(&server.server, "alice").await;
    let tablet = log_in(&server.server, "alice").await;
    let desktop = log_in(&server.server, "alice").await;
    for device in [&phone, &laptop, &tablet, &desktop] {
        server
            .assert_accepted(&device.jwt, "alice", "signed in")
            .await;
    }

    let (status, _) = server
        .post(&format!("/revoke/{}", phone.sid), &laptop.jwt)
        .await;
    assert_eq!(status, 204, "Session::revoke");
    server
        .assert_refused(&phone.jwt, 0, "the revoked phone")
        .await;
    server
        .assert_accepted(&laptop.jwt, "alice", "the laptop that revoked it")
        .await;

    assert_eq!(
        server.post("/revoke-others", &laptop.jwt).await,
        (200, "2".to_owned())
    );
    server
        .assert_refused(&tablet.jwt, 0, "revoke_others: the tablet")
        .await;
    server
        .assert_refused(&desktop.jwt, 0, "revoke_others: the desktop")
        .await;
    server
        .assert_accepted(&laptop.jwt, "alice", "revoke_others keeps the current one")
        .await;

    let other = log_in(&server.server, "alice").await;
    assert_eq!(
        server.post("/revoke-all", &laptop.jwt).await,
        (200, "2".to_owned())
    );
    server
        .assert_refused(&laptop.jwt, 0, "revoke_all: the current one")
        .await;
    server
        .assert_refused(&other.jwt, 0, "revoke_all: the other")
        .await;
}

#[tokio::test]
async fn an_eviction_here_refuses_the_evicted_token_here() {
    let server = Instance::with(MemoryStore::default(), |layer| {
        layer
            .access_tokens(stateless(16))
            .max_sessions_per_user(1, Overflow::EvictLeastRecentlyUsed)
    })
    .await;
    let first = log_in(&server.server, "alice").await;
    server
        .assert_accepted(&first.jwt, "alice", "the first session")
        .await;
    let second = log_in(&server.server, "alice").await;
    server
        .assert_refused(&first.jwt, 0, "the evicted session")
        .await;
    server
        .assert_accepted(&second.jwt, "alice", "the session that evicted it")
        .await;
}

/// Capacity 1: the second revocation does not fit. Nothing is evicted from the list; instead
/// every token's session is read from the store until the unlisted revocation's tokens have
/// expired, so both revoked tokens stay refused and a valid one costs one read.
#[tokio::test]
async fn a_full_denylist_forgets_no_revocation() {
    let server = Instance::stateless(MemoryStore::default(), 1).await;
    let first = log_in(&server.server, "alice").await;
    let second = log_in(&server.server, "bob").await;
    let valid = log_in(&server.server, "carol").await;
    server
        .assert_accepted(&valid.jwt, "carol", "before any revocation")
        .await;

    assert_eq!(server.post("/logout", &first.jwt).await.0, 204);
    server
        .assert_accepted(&valid.jwt, "carol", "one revocation fits")
        .await;
    assert_eq!(server.post("/logout", &second.jwt).await.0, 204);
    server.refusals().await;

    server
        .assert_refused(&first.jwt, 0, "listed: refused with no read")
        .await;
    server
        .assert_refused(&second.jwt, 1, "not listed: the store says it ended")
        .await;
    assert_eq!(server.refusals().await, ["revoked", "unknown"]);
    let (status, body, calls) = server.get("/whoami", &valid.jwt).await;
    assert_eq!(
        (status, body["user"].as_str(), calls),
        (200, Some("carol"), 1),
        "checked in the store"
    );
}

#[tokio::test]
async fn capacity_zero_checks_the_store_after_any_revocation() {
    let server = Instance::stateless(MemoryStore::default(), 0).await;
    let first = log_in(&server.server, "alice").await;
    let valid = log_in(&server.server, "carol").await;
    server
        .assert_accepted(&valid.jwt, "carol", "no revocation yet")
        .await;
    assert_eq!(server.post("/logout", &first.jwt).await.0, 204);
    server
        .assert_refused(&first.jwt, 1, "the store says it ended")
        .await;
    let (status, _, calls) = server.get("/whoami", &valid.jwt).await;
    assert_eq!((status, calls), (200, 1));
}

#[test]
fn the_mode_is_stateful_unless_chosen() {
    assert_eq!(access_tokens().mode(), BearerMode::Stateful);
    assert_eq!(
        stateless(100).mode(),
        BearerMode::Stateless {
            denylist_capacity: 100
        }
    );
    assert_eq!(stateless(100).stateful().mode(), BearerMode::Stateful);
}

/// The stateful mode (unchanged, see `jwt_layer`): a logout on one instance refuses the token
/// on another at once, at the price of one store read per request.
#[tokio::test]
async fn the_stateful_mode_refuses_everywhere_at_once() {
    let store = MemoryStore::default();
    let a = Instance::with(store.clone(), |layer| layer.access_tokens(access_tokens())).await;
    let b = Instance::with(store, |layer| layer.access_tokens(access_tokens())).await;
    let alice = log_in(&a.server, "alice").await;
    let (status, _, calls) = b.get("/whoami", &alice.jwt).await;
    assert_eq!((status, calls), (200, 1), "one read per request");
    assert_eq!(a.post("/logout", &alice.jwt).await.0, 204);
    b.assert_refused(&alice.jwt, 1, "ended in the store: refused on B at once")
        .await;
}
