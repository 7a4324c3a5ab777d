//! Stateful JWT access tokens in the layer, over real HTTP on loopback, on the memory store:
//! a token names its session, which is read on every request, so a logout or a revocation ends
//! it at once; every refusal is a 401 with the Bearer `invalid_token` challenge and an
//! `invalid_token` audit event with its reason.

mod common;
mod jwt_layer_support;

use std::time::{Duration, SystemTime};

use common::FlakyStore;
use jwt_layer_support::{
    access_tokens, assert_instances_share, assert_refused, audited, get_me, instance,
    invalid_token_reasons, log_in,
};
use serde_json::Value;
use sessionward::admin::{RemoteRouter, SECRET_HEADER};
use sessionward::audit::AuditKind;
use sessionward::store::conformance::sample;
use sessionward::store::{MemoryStore, Overflow, SessionStore};
use sessionward::{SessionId, SessionLayer};

fn layer(store: MemoryStore) -> SessionLayer<MemoryStore> {
    SessionLayer::new(store).access_tokens(access_tokens())
}

#[tokio::test]
async fn an_access_token_reads_and_writes_its_session_and_sets_no_cookie() {
    let server = instance(MemoryStore::default()).await;
    let alice = log_in(&server, "alice").await;

    let (status, body, cookie, _) = get_me(&server, &alice.jwt).await;
    assert_eq!(status, 200);
    assert_eq!(body["user"], "alice");
    assert_eq!(body["sid"], alice.sid.as_str());
    assert!(!cookie, "a bearer response sets no cookie");

    let res = server
        .put("/n")
        .bearer_auth(&alice.jwt)
        .json(&42)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(!res.headers().contains_key("set-cookie"));
    // The write reached the session itself: its opaque token reads it too.
    let (_, body, _, _) = get_me(&server, &alice.token).await;
    assert_eq!(body["n"], 42);
    let (_, body, _, _) = get_me(&server, &alice.jwt).await;
    assert_eq!(body["n"], 42);

    // A token for the session can also be had with its opaque token.
    let res = server
        .post("/token")
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let second = res.text().await.unwrap();
    assert_eq!(get_me(&server, &second).await.0, 200);
}

#[tokio::test]
async fn a_logout_through_the_token_ends_it() {
    let (server, recorder, layer) = audited(layer(MemoryStore::default())).await;
    let alice = log_in(&server, "alice").await;
    let res = server
        .post("/logout")
        .bearer_auth(&alice.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(!res.headers().contains_key("set-cookie"));
    let audit = layer.config().audit().unwrap();
    recorder.take(audit).await;

    assert_refused(&server, &alice.jwt, "the token of a logged-out session").await;
    assert_eq!(
        invalid_token_reasons(&recorder.take(audit).await),
        ["unknown"],
        "a token for an ended session is reported as unknown"
    );
    assert_refused(&server, &alice.token, "the opaque token").await;
}

#[tokio::test]
async fn a_revocation_from_another_device_ends_the_token() {
    let server = instance(MemoryStore::default()).await;
    let phone = log_in(&server, "alice").await;
    let laptop = log_in(&server, "alice").await;
    assert_eq!(get_me(&server, &phone.jwt).await.0, 200);
    let res = server
        .post(&format!("/revoke/{}", phone.sid))
        .bearer_auth(&laptop.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_refused(&server, &phone.jwt, "the revoked session's token").await;
    assert_eq!(get_me(&server, &laptop.jwt).await.0, 200);
}

#[tokio::test]
async fn two_instances_share_tokens_and_logouts_on_one_memory_store() {
    assert_instances_share(MemoryStore::default()).await;
}

/// Each refused token: 401 with the challenge, never a 5xx, and its reason in the audit trail.
#[tokio::test]
async fn refused_tokens_say_why() {
    let (server, recorder, layer) = audited(layer(MemoryStore::default())).await;
    let audit = layer.config().audit().unwrap();
    let alice = log_in(&server, "alice").await;
    let sid = SessionId::parse(&alice.sid).unwrap();
    let tokens = access_tokens();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);

    let expired = tokens.issue("alice", sid, hour_ago).unwrap().token;
    let other_user = tokens
        .issue("mallory", sid, SystemTime::now())
        .unwrap()
        .token;
    let unknown = tokens
        .issue("alice", SessionId([9; 16]), SystemTime::now())
        .unwrap()
        .token;
    // A signature character changed in the middle (the last one carries padding bits).
    let mut tampered = alice.jwt.clone().into_bytes();
    let at = alice.jwt.rfind('.').unwrap() + 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let cases = [
        (expired.as_str(), "expired"),
        (tampered.as_str(), "bad_signature"),
        (other_user.as_str(), "wrong_subject"),
        (unknown.as_str(), "unknown"),
        ("a.b.c", "malformed"),
        ("...", "malformed"),
        ("x.y", "malformed"),
        ("e30.e30.", "malformed"),
    ];
    recorder.take(audit).await;
    for (token, reason) in cases {
        assert_refused(&server, token, reason).await;
        assert_eq!(
            invalid_token_reasons(&recorder.take(audit).await),
            [reason],
            "{token}"
        );
    }
    // A refused token changed nothing: the session and its token still work.
    assert_eq!(get_me(&server, &alice.jwt).await.0, 200);
}

#[tokio::test]
async fn an_oversized_bearer_value_with_dots_is_refused_not_a_server_error() {
    let (server, recorder, layer) = audited(layer(MemoryStore::default())).await;
    let audit = layer.config().audit().unwrap();
    let huge = format!("{}.{}.{}", "a".repeat(6000), "b".repeat(6000), "c");
    assert_refused(&server, &huge, "over 8 KiB").await;
    assert_eq!(
        invalid_token_reasons(&recorder.take(audit).await),
        ["too_large"]
    );
}

#[tokio::test]
async fn without_access_tokens_a_jwt_is_an_unusable_bearer_token() {
    let store = MemoryStore::default();
    let with = instance(store.clone()).await;
    let alice = log_in(&with, "alice").await;
    let (without, recorder, layer) = audited(SessionLayer::new(store)).await;
    let audit = layer.config().audit().unwrap();
    assert_refused(&without, &alice.jwt, "no AccessTokens on the layer").await;
    assert_eq!(
        invalid_token_reasons(&recorder.take(audit).await),
        ["malformed"]
    );
    // Nor does it issue tokens: an app bug, answered as a server error.
    let res = without
        .post("/token")
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
}

#[tokio::test]
async fn no_access_token_for_an_anonymous_request() {
    let server = instance(MemoryStore::default()).await;
    let res = server.post("/token").send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "unauthenticated");
}

/// The token is checked only when a handler uses the session, with one store read; a store
/// failure is a 503, as for an opaque token.
#[tokio::test]
async fn one_store_read_and_only_when_the_session_is_used() {
    let store = FlakyStore::wrap(MemoryStore::default());
    let server = instance(store.clone()).await;
    let alice = log_in(&server, "alice").await;
    let before = store.calls();
    let res = server
        .get("/ping")
        .bearer_auth(&alice.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(store.calls(), before, "no session use, no store call");
    assert_eq!(get_me(&server, &alice.jwt).await.0, 200);
    assert_eq!(store.calls(), before + 1, "one store read");

    store.set_down(true);
    let (status, body, _, _) = get_me(&server, &alice.jwt).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "session_store_unavailable");
    store.set_down(false);
    assert_eq!(get_me(&server, &alice.jwt).await.0, 200);
}

/// A valid token whose session passed its deadline: the session is ended, as it would be for
/// its opaque token, and the refusal says it expired.
#[tokio::test]
async fn a_token_for_an_expired_session_is_refused_and_the_session_ended() {
    let store = MemoryStore::default();
    let (server, recorder, layer) = audited(layer(store.clone())).await;
    let audit = layer.config().audit().unwrap();
    let (key, mut record) = sample(Some("alice"), Duration::from_secs(7200));
    record.idle_expires_at = SystemTime::now() - Duration::from_secs(60);
    store.create(&key, record.clone()).await.unwrap();
    let token = access_tokens()
        .issue("alice", record.id, SystemTime::now())
        .unwrap()
        .token;

    let (status, body, cookie, challenge) = get_me(&server, &token).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "session_expired");
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="invalid_token", error_description="the session has expired""#)
    );
    assert!(!cookie);
    let events = recorder.take(audit).await;
    assert_eq!(invalid_token_reasons(&events), ["expired"]);
    assert!(events.iter().any(|e| e.event == AuditKind::ExpiredIdle));
    assert!(
        store.load(&key).await.unwrap().is_none(),
        "the session is ended"
    );
}

/// Another server ends the session through the remote routes: the token is refused at once.
#[tokio::test]
async fn a_remote_revocation_ends_the_token() {
    const REMOTE_SECRET: &str = "a remote secret of 16 bytes or more";
    let store = MemoryStore::default();
    let server = instance(store.clone()).await;
    let remote = common::serve(
        axum::Router::new().nest(
            "/remote",
            RemoteRouter::new(store, REMOTE_SECRET)
                .unwrap()
                .into_router(),
        ),
    )
    .await;
    let alice = log_in(&server, "alice").await;
    assert_eq!(get_me(&server, &alice.jwt).await.0, 200);
    let res = remote
        .post("/remote/users/alice/revoke")
        .header(SECRET_HEADER, REMOTE_SECRET)
        .json(&serde_json::json!({"session_id": alice.sid}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_refused(&server, &alice.jwt, "a remotely revoked session's token").await;
}

/// A login past the user's session limit evicts the oldest session, and its token with it.
#[tokio::test]
async fn an_eviction_ends_the_token() {
    let layer =
        layer(MemoryStore::default()).max_sessions_per_user(1, Overflow::EvictLeastRecentlyUsed);
    let (server, _recorder, _layer) = audited(layer).await;
    let first = log_in(&server, "alice").await;
    assert_eq!(get_me(&server, &first.jwt).await.0, 200);
    let second = log_in(&server, "alice").await;
    assert_refused(&server, &first.jwt, "the evicted session's token").await;
    assert_eq!(get_me(&server, &second.jwt).await.0, 200);
}

#[test]
fn the_layer_shows_its_access_tokens_but_never_the_secret() {
    let layer = layer(MemoryStore::default());
    let tokens = layer.config().access_tokens().expect("configured");
    assert_eq!(
        tokens.key_ring().current_kid(),
        access_tokens().key_ring().current_kid()
    );
    let shown = format!("{layer:?}");
    assert!(!shown.contains(jwt_layer_support::SECRET), "{shown}");
}

/// The layer remembers a verified token (a repeat skips decoding and the signature check), yet
/// the token's `exp` is still checked on every request: once past, it is refused and audited as
/// `expired`, with or without the layer remembering tokens.
#[tokio::test]
async fn a_remembered_token_is_refused_once_it_expires() {
    for places in [1024, 0] {
        let tokens = access_tokens()
            .lifetime(Duration::from_secs(1))
            .leeway(Duration::ZERO);
        let layer = SessionLayer::new(MemoryStore::default())
            .access_tokens(tokens)
            .remember_verified_tokens(places);
        let (server, recorder, layer) = audited(layer).await;
        let alice = log_in(&server, "alice").await;
        for _ in 0..3 {
            let (status, body, _, _) = get_me(&server, &alice.jwt).await;
            assert_eq!(
                (status, &body["user"]),
                (200, &Value::from("alice")),
                "{places}"
            );
        }
        // `exp` is in whole seconds and honoured through its own second.
        let claims = alice.jwt.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims)
                .unwrap(),
        )
        .unwrap();
        let past = std::time::UNIX_EPOCH + Duration::from_secs(claims["exp"].as_u64().unwrap() + 1);
        if let Ok(wait) = past.duration_since(SystemTime::now()) {
            tokio::time::sleep(wait + Duration::from_millis(20)).await;
        }
        recorder.take(layer.config().audit().unwrap()).await;
        let (status, _, cookie, challenge) = get_me(&server, &alice.jwt).await;
        assert_eq!(status, 401, "{places}");
        assert!(!cookie);
        assert!(challenge.unwrap().contains(r#"error="invalid_token""#));
        let events = recorder.take(layer.config().audit().unwrap()).await;
        assert_eq!(invalid_token_reasons(&events), ["expired"], "{places}");
    }
}
