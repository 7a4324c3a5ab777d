//! Bearer sessions through the demo's routes (docs/demo-http.md), over real HTTP on loopback:
//! `POST /api/token` signs in with a token pair, `POST /api/token/refresh` exchanges a refresh
//! token once, a used one revokes the session, and racing refreshes of one client are refused
//! cleanly. Store failures at each step change nothing.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use std::time::{Duration, SystemTime};

use common::audit::Recorder;
use common::faults::{FaultyStore, Op};
use common::{header, serve, Server};
use serde_json::{json, Value};
use sessionward::audit::{AuditHandle, AuditKind};
use sessionward::store::{MemoryStore, Overflow, SessionStore};
use sessionward::token::{AccessTokens, KeyRing};
use sessionward::SessionLayer;

/// The demo's layer over `store`, with a race window of `window`.
fn layer<S: SessionStore>(store: S, window: Duration) -> SessionLayer<S> {
    let tokens = AccessTokens::new(KeyRing::random().unwrap()).refresh_race_window(window);
    demo::session_layer(store).access_tokens(tokens)
}

async fn server_with<S: SessionStore>(layer: SessionLayer<S>) -> Server {
    serve(demo::app().layer(layer)).await
}

async fn sign_in(server: &Server) -> Value {
    let res = server
        .post("/api/token")
        .json(&json!({"username": "alice", "password": "wonderland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(res.headers(), "set-cookie").is_none(), "no cookie");
    res.json().await.unwrap()
}

async fn refresh(server: &Server, refresh_token: &Value) -> reqwest::Response {
    server
        .post("/api/token/refresh")
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap()
}

async fn me(server: &Server, access: &Value) -> reqwest::Response {
    server
        .get("/api/me")
        .bearer_auth(access.as_str().unwrap())
        .send()
        .await
        .unwrap()
}

async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn a_token_pair_signs_in_and_each_refresh_token_works_once() {
    let server = server_with(layer(MemoryStore::default(), Duration::ZERO)).await;
    let pair = sign_in(&server).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 300);
    assert_eq!(pair["access_token"].as_str().unwrap().split('.').count(), 3);
    assert_eq!(pair["refresh_token"].as_str().unwrap().len(), 66);

    let res = me(&server, &pair["access_token"]).await;
    assert_eq!(res.status(), 200);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["user"], "alice");

    let res = refresh(&server, &pair["refresh_token"]).await;
    assert_eq!(res.status(), 200);
    let next: Value = res.json().await.unwrap();
    assert_ne!(next["refresh_token"], pair["refresh_token"]);
    let res = me(&server, &next["access_token"]).await;
    assert_eq!(res.status(), 200);
    let later: Value = res.json().await.unwrap();
    assert_eq!(later["session_id"], first["session_id"], "the same session");
    assert_eq!(
        later["expires_at"], first["expires_at"],
        "a refresh never moves the absolute deadline"
    );
    // A bearer session's own bookkeeping is no preference of the user's.
    let prefs: Value = server
        .get("/api/prefs")
        .bearer_auth(next["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prefs, json!({}));
}

#[tokio::test]
async fn a_used_refresh_token_revokes_the_whole_session_and_is_audited() {
    let recorder = Recorder::default();
    let audit = AuditHandle::new(recorder.clone());
    let layer = layer(MemoryStore::default(), Duration::ZERO).audit_through(audit.clone());
    let server = server_with(layer).await;
    let first = sign_in(&server).await;
    let res = refresh(&server, &first["refresh_token"]).await;
    let second: Value = res.json().await.unwrap();
    let since = SystemTime::now();

    // The thief replays the first refresh token.
    assert_eq!(
        error_of(refresh(&server, &first["refresh_token"]).await).await,
        (401, "invalid_grant".to_owned())
    );
    // Every token of the session is dead: the access token and the current refresh token.
    assert_eq!(me(&server, &second["access_token"]).await.status(), 401);
    assert_eq!(
        error_of(refresh(&server, &second["refresh_token"]).await).await,
        (401, "invalid_grant".to_owned())
    );
    let events = recorder.take(&audit).await;
    let reuse: Vec<_> = events
        .iter()
        .filter(|e| e.event == AuditKind::RefreshReuse)
        .collect();
    assert_eq!(reuse.len(), 1, "{events:?}");
    assert_eq!(reuse[0].user.as_deref(), Some("alice"));
    assert!(reuse[0].time >= since);
    let text = format!("{events:?}");
    for token in [&first["refresh_token"], &second["refresh_token"]] {
        assert!(!text.contains(&token.as_str().unwrap()[23..]), "no secret");
    }
}

#[tokio::test]
async fn an_older_refresh_token_is_reuse_even_within_the_race_window() {
    let server = server_with(layer(MemoryStore::default(), Duration::from_secs(60))).await;
    let first = sign_in(&server).await;
    let second: Value = refresh(&server, &first["refresh_token"])
        .await
        .json()
        .await
        .unwrap();
    let third: Value = refresh(&server, &second["refresh_token"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        error_of(refresh(&server, &first["refresh_token"]).await).await,
        (401, "invalid_grant".to_owned())
    );
    assert_eq!(me(&server, &third["access_token"]).await.status(), 401);
}

/// Two refreshes of one token race: the one that reaches the store first gets the pair, the
/// other a clean 409 within the window, and the session goes on.
#[tokio::test]
async fn racing_refreshes_of_one_client_get_one_pair_and_a_clean_refusal() {
    let store = FaultyStore::default();
    let server = server_with(layer(store.clone(), Duration::from_secs(60))).await;
    let pair = sign_in(&server).await;
    let mut held = store.pause(&[Op::Rotate]);
    let slow = {
        let request = server
            .post("/api/token/refresh")
            .json(&json!({ "refresh_token": pair["refresh_token"] }));
        tokio::spawn(async move { request.send().await.unwrap() })
    };
    held.reached().await;
    let res = refresh(&server, &pair["refresh_token"]).await;
    assert_eq!(res.status(), 200);
    let winner: Value = res.json().await.unwrap();
    held.release();
    assert_eq!(
        error_of(slow.await.unwrap()).await,
        (409, "refresh_conflict".to_owned())
    );
    assert_eq!(me(&server, &winner["access_token"]).await.status(), 200);
    assert_eq!(
        refresh(&server, &winner["refresh_token"]).await.status(),
        200
    );
}

#[tokio::test]
async fn refresh_tokens_are_no_access_tokens_or_cookies_and_junk_is_refused() {
    let server = server_with(layer(MemoryStore::default(), Duration::ZERO)).await;
    let pair = sign_in(&server).await;
    let refresh_token = pair["refresh_token"].as_str().unwrap();
    assert_eq!(me(&server, &pair["refresh_token"]).await.status(), 401);
    let res = server
        .get("/api/me")
        .header("cookie", format!("{}={refresh_token}", common::COOKIE))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Its secret part alone is no session token either.
    let res = server
        .get("/api/me")
        .bearer_auth(&refresh_token[23..])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let forged = format!("{}{}", &refresh_token[..23], "A".repeat(43));
    for junk in [
        json!(""),
        json!("x"),
        json!("a".repeat(100_000)),
        json!(forged),
        json!(&refresh_token[..65]),
    ] {
        assert_eq!(
            error_of(refresh(&server, &junk).await).await,
            (401, "invalid_grant".to_owned()),
            "{junk:.40}"
        );
    }
    for body in ["", "{}", "[1]", r#"{"refresh_token": 5}"#] {
        let res = server
            .post("/api/token/refresh")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
    }
    // None of it touched the session: the refresh token still works.
    assert_eq!(refresh(&server, &pair["refresh_token"]).await.status(), 200);
}

#[tokio::test]
async fn wrong_credentials_and_limits_are_refused_like_a_login() {
    let store = MemoryStore::default();
    let layer = layer(store, Duration::ZERO).max_sessions_per_user(1, Overflow::Refuse);
    let server = server_with(layer).await;
    let res = server
        .post("/api/token")
        .json(&json!({"username": "alice", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (401, "invalid_credentials".to_owned()));
    sign_in(&server).await;
    let res = server
        .post("/api/token")
        .json(&json!({"username": "alice", "password": "wonderland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (409, "session_limit".to_owned()));
}

#[tokio::test]
async fn logout_through_the_access_token_ends_the_refresh_token_too() {
    let server = server_with(layer(MemoryStore::default(), Duration::ZERO)).await;
    let pair = sign_in(&server).await;
    let res = server
        .post("/logout")
        .bearer_auth(pair["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(me(&server, &pair["access_token"]).await.status(), 401);
    assert_eq!(
        error_of(refresh(&server, &pair["refresh_token"]).await).await,
        (401, "invalid_grant".to_owned())
    );
}

/// A store failure at each step of a refresh answers 503 and loses nothing: the same refresh
/// token works once the store is back.
#[tokio::test]
async fn a_store_failure_at_each_step_changes_nothing() {
    let store = FaultyStore::default();
    let server = server_with(layer(store.clone(), Duration::ZERO)).await;
    store.fail(&[Op::Create], 1);
    let res = server
        .post("/api/token")
        .json(&json!({"username": "alice", "password": "wonderland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let pair = sign_in(&server).await;
    for op in [Op::Load, Op::Rotate] {
        store.fail(&[op], 1);
        let (status, _) = error_of(refresh(&server, &pair["refresh_token"]).await).await;
        assert_eq!(status, 503, "{op:?}");
        assert_eq!(store.faults_left(), 0, "{op:?} was called");
    }
    let res = refresh(&server, &pair["refresh_token"]).await;
    assert_eq!(res.status(), 200);
    let next: Value = res.json().await.unwrap();
    // A replay of the used token while the store fails revokes nothing.
    store.fail(&[Op::Load], 1);
    let (status, _) = error_of(refresh(&server, &pair["refresh_token"]).await).await;
    assert_eq!(status, 503);
    store.heal();
    assert_eq!(me(&server, &next["access_token"]).await.status(), 200);
}

#[tokio::test]
async fn an_idle_bearer_session_cannot_be_refreshed() {
    let layer = layer(MemoryStore::default(), Duration::ZERO).idle_timeout(Duration::from_secs(1));
    let server = server_with(layer).await;
    let pair = sign_in(&server).await;
    common::wait::sleep_past(common::wait::now_ms() + 1100).await;
    assert_eq!(
        error_of(refresh(&server, &pair["refresh_token"]).await).await,
        (401, "invalid_grant".to_owned())
    );
}
