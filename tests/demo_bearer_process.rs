//! The demo and the client example as processes (docs/demo-http.md): the client stays signed
//! in across refreshes, says `not logged in` (exit 2) for wrong credentials and `session
//! expired` (exit 3) once its session is revoked; with shared keys and a persistent store a
//! restarted demo, and a second instance, accept the tokens already issued.
//!
//! The binaries are the examples `cargo test` builds next to the tests; with `--test
//! demo_bearer_process` alone, run `cargo build --examples --all-features` first.
#![cfg(all(unix, feature = "sqlite"))]

mod process_support;

use process_support::Process;
use serde_json::{json, Value};

const SECRET: &str = "a shared secret of at least 32 bytes, for every instance";

async fn token_pair(base: &str) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/token"))
        .json(&json!({"username": "alice", "password": "wonderland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn me(base: &str, pair: &Value) -> u16 {
    let res = reqwest::Client::new()
        .get(format!("{base}/api/me"))
        .bearer_auth(pair["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

async fn refresh(base: &str, pair: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/token/refresh"))
        .json(&json!({ "refresh_token": pair["refresh_token"] }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_client_stays_signed_in_across_refreshes() {
    let dir = tempfile_dir("client-ok");
    let audit = dir.join("audit.jsonl");
    let audit = audit.to_str().unwrap();
    // Access tokens live 1 s, less than the client's margin: it refreshes before each call.
    let (_demo, base) = Process::demo(&[
        ("SESSIONWARD_ACCESS_TTL", "1"),
        ("SESSIONWARD_AUDIT_LOG", audit),
    ]);
    let mut client = Process::start("client", &[&base, "alice", "wonderland", "2"], &[]);
    let status = client.exit();
    assert!(status.success(), "{status:?}: {:#?}", client.seen);
    assert_eq!(client.seen, vec!["200 alice"; 4]);
    // The audit trail is written in the background: wait for the refreshes to reach it.
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let refreshes = loop {
        assert!(
            std::time::Instant::now() < patience,
            "no refresh in the audit log"
        );
        let log = std::fs::read_to_string(audit).unwrap_or_default();
        let n = log
            .lines()
            .filter(|l| l.contains(r#""event":"rotated""#) && l.contains(r#""reason":"refresh""#))
            .count();
        if n >= 3 {
            break n;
        }
        tokio::task::yield_now().await;
    };
    assert!(refreshes >= 3, "the client refreshed: {refreshes}");
}

#[tokio::test]
async fn wrong_credentials_say_not_logged_in() {
    let (_demo, base) = Process::demo(&[]);
    let mut client = Process::start("client", &[&base, "alice", "nope", "1"], &[]);
    assert_eq!(client.exit().code(), Some(2));
    assert_eq!(client.seen, vec!["not logged in"]);
}

#[tokio::test]
async fn a_revoked_session_says_session_expired() {
    let (_demo, base) = Process::demo(&[]);
    let mut client = Process::start("client", &[&base, "alice", "wonderland", "60"], &[]);
    client.wait_for("200 alice");
    // The admin ends every session of alice's.
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/login"))
        .json(&json!({"username": "admin", "password": "admin-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let res = http
        .post(format!("{base}/admin/users/alice/revoke"))
        .header("cookie", cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(client.exit().code(), Some(3));
    assert_eq!(
        client.seen.last().map(String::as_str),
        Some("session expired")
    );
}

#[tokio::test]
async fn shared_keys_and_store_carry_tokens_across_restarts_and_instances() {
    let dir = tempfile_dir("restart");
    let store = format!("sqlite:{}", dir.join("sessions.db").display());
    let env = [
        ("SESSIONWARD_STORE", store.as_str()),
        ("SESSIONWARD_JWT_SECRET", SECRET),
    ];
    let (first, base) = Process::demo(&env);
    let pair = token_pair(&base).await;
    drop(first);

    let (_a, a) = Process::demo(&env);
    assert_eq!(
        me(&a, &pair).await,
        200,
        "the restarted demo accepts the token"
    );
    let res = refresh(&a, &pair).await;
    assert_eq!(res.status(), 200, "and refreshes it");
    let next: Value = res.json().await.unwrap();

    let (_b, b) = Process::demo(&env);
    assert_eq!(
        me(&b, &next).await,
        200,
        "a second instance accepts A's token"
    );
    let res = refresh(&b, &next).await;
    assert_eq!(res.status(), 200);
    let last: Value = res.json().await.unwrap();
    assert_eq!(me(&a, &last).await, 200, "and A accepts B's");
    // A replay on A of the pair B used revokes the session on both.
    assert_eq!(refresh(&a, &pair).await.status(), 401);
    assert_eq!(me(&b, &last).await, 401);
}

/// A fresh directory under the target dir for this test's files.
fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .join(format!("demo-bearer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_bearer_mode_variable_reaches_the_layer() {
    let (_demo, base) = Process::demo(&[("SESSIONWARD_BEARER_MODE", "stateless")]);
    let pair = token_pair(&base).await;
    assert_eq!(me(&base, &pair).await, 200);
    let res = reqwest::Client::new()
        .post(format!("{base}/logout"))
        .bearer_auth(pair["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        me(&base, &pair).await,
        401,
        "refused at once on this instance"
    );

    let mut wrong = Process::start(
        "demo",
        &[],
        &[("PORT", "0"), ("SESSIONWARD_BEARER_MODE", "sometimes")],
    );
    assert_eq!(wrong.exit().code(), Some(2));
}
