//! The audit trail of one scripted run through the demo, on every store: the events come in
//! the order of the actions, with the right session ids, users and reasons, and no event holds
//! a session token or its hash. The run covers an anonymous session, a failed and three good
//! logins, an eviction by the per-user cap, a revocation from another device, a revoked and a
//! malformed token presented, and a logout.
//!
//! The server stores need their variables, as the store suites do; without one, its test is
//! reported as ignored.

mod common;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;
#[allow(dead_code)] // the cluster helpers this file does not use
mod redis_support;
mod servers;
mod sql_support;

use std::process::ExitCode;
use std::time::SystemTime;

use common::audit::{assert_no_token, Recorder, AGENT};
use common::{set_cookie, Server, WithSession};
use serde_json::{json, Value};
use servers::trial;
use sessionward::audit::{AuditHandle, AuditKind};
use sessionward::store::{MemoryStore, Overflow, SessionStore, SqliteStore};
use sql_support::{on_fresh_mysql_table, on_fresh_postgres_table, TempDb};

async fn login(
    server: &Server,
    token: Option<&str>,
    password: &str,
) -> (u16, Option<String>, Value) {
    let mut req = server
        .post("/login")
        .json(&json!({"username": "alice", "password": password}));
    if let Some(token) = token {
        req = req.session(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let token = set_cookie(res.headers());
    (status, token, res.json().await.unwrap_or(Value::Null))
}

/// What is checked of each event: kind, public session id, user, reason.
type Seen<'a> = (AuditKind, Option<String>, Option<&'a str>, Option<&'a str>);

/// The script, on the demo over `store` with a cap of 2 sessions per user (evicting).
async fn scripted_run<S: SessionStore>(store: S) {
    let recorder = Recorder::default();
    let handle = AuditHandle::new(recorder.clone());
    let layer = demo::session_layer(store)
        .max_sessions_per_user(2, Overflow::EvictLeastRecentlyUsed)
        .audit_through(handle.clone());
    let server = common::audit::serve(demo::app().layer(layer)).await;
    let since = SystemTime::now();

    // An anonymous session with a pref, then signed in: the same session, a new token.
    let res = server
        .put("/api/prefs")
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let anonymous = set_cookie(res.headers()).unwrap();
    let (status, _, _) = login(&server, None, "wrong").await;
    assert_eq!(status, 401);
    let (_, first, body) = login(&server, Some(&anonymous), "wonderland").await;
    let (first, first_id) = (
        first.unwrap(),
        body["session_id"].as_str().unwrap().to_owned(),
    );
    let (_, second, body) = login(&server, None, "wonderland").await;
    let (second, second_id) = (
        second.unwrap(),
        body["session_id"].as_str().unwrap().to_owned(),
    );
    // A third login passes the cap: the first (least recently seen) session is evicted.
    let (_, third, body) = login(&server, None, "wonderland").await;
    let (third, third_id) = (
        third.unwrap(),
        body["session_id"].as_str().unwrap().to_owned(),
    );
    // The third device revokes the second; the second's token is then refused.
    let res = server
        .delete(&format!("/api/sessions/{second_id}"))
        .session(&third)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = server.get("/api/me").session(&second).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = server
        .get("/api/me")
        .session("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = server.post("/logout").session(&third).send().await.unwrap();
    assert_eq!(res.status(), 204);

    let events = recorder.take(&handle).await;
    let seen: Vec<Seen<'_>> = events
        .iter()
        .map(|e| {
            (
                e.event,
                e.session_id.map(|id| id.to_string()),
                e.user.as_deref(),
                e.reason.as_deref(),
            )
        })
        .collect();
    let alice = Some("alice");
    let id = |s: &str| Some(s.to_owned());
    let anonymous_id = seen[0].1.clone();
    assert!(anonymous_id.is_some(), "{seen:?}");
    assert_eq!(
        seen,
        [
            (AuditKind::SessionCreated, anonymous_id.clone(), None, None),
            (
                AuditKind::LoginFailed,
                None,
                alice,
                Some("invalid_credentials")
            ),
            (AuditKind::Login, id(&first_id), alice, None),
            (AuditKind::Login, id(&second_id), alice, None),
            (
                AuditKind::Evicted,
                id(&first_id),
                alice,
                Some("session_limit")
            ),
            (AuditKind::Login, id(&third_id), alice, None),
            (AuditKind::Revoked, id(&second_id), alice, None),
            (AuditKind::InvalidToken, None, None, Some("unknown")),
            (AuditKind::InvalidToken, None, None, Some("malformed")),
            (AuditKind::Logout, id(&third_id), alice, None),
        ],
        "{events:#?}"
    );
    for event in &events {
        assert!(since <= event.time && event.time <= SystemTime::now());
        assert_eq!(event.user_agent.as_deref(), Some(AGENT), "{event:?}");
        let text = serde_json::to_string(event).unwrap();
        assert_no_token(&text, &[&anonymous, &first, &second, &third]);
    }
    assert_eq!(handle.dropped(), 0);
}

async fn memory() {
    scripted_run(MemoryStore::default()).await;
}

async fn sqlite() {
    let file = TempDb::new();
    scripted_run(SqliteStore::open(&file.0).await.expect("open")).await;
}

async fn postgres() {
    on_fresh_postgres_table(scripted_run).await;
}

async fn mysql() {
    on_fresh_mysql_table(scripted_run).await;
}

async fn redis() {
    scripted_run(redis_support::standalone_store("audit").await).await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(memory),
        trial!(sqlite),
        trial!(Postgres: postgres),
        trial!(MySql: mysql),
        trial!(Redis: redis),
    ])
}
