//! JWT session cookies (`SessionLayer::jwt_cookies`), over real HTTP on loopback, on the memory
//! store wrapped to count its calls. Stateful: the cookie works exactly as the opaque token it
//! carries (a login kills the old one, a logout ends it), and a forged, foreign or mistyped one
//! is no session, audited with its reason. Stateless: a fresh cookie authenticates with no store
//! read, one in its second half reads the store and is re-issued, a logout here refuses it at
//! once, and the absolute deadline holds whatever the cookie says.

mod common;
mod jwt_layer_support;
mod jwt_stateless_support;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::wait::sleep_past;
use common::{opaque_token, serve, set_cookie, WithSession};
use jwt_layer_support::access_tokens;
use jwt_stateless_support::Instance;
use serde_json::{json, Value};
use sessionward::store::MemoryStore;
use sessionward::token::{AccessTokens, KeyRing};
use sessionward::SessionLayer;

/// The header and the claims of a JWT, unverified.
fn parts(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let mut next = || {
        let json = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        serde_json::from_slice::<Value>(&json).unwrap()
    };
    (next(), next())
}

/// `jwt` with its claims replaced by `claims`, its signature kept.
fn with_claims(jwt: &str, claims: &Value) -> String {
    let parts: Vec<&str> = jwt.split('.').collect();
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{claims}.{}", parts[0], parts[2])
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Answer {
    status: u16,
    body: Value,
    /// The session cookie the response set, if any.
    cookie: Option<String>,
    store_calls: usize,
}

impl Instance {
    async fn jwt_cookies(tokens: AccessTokens) -> Self {
        Self::with(MemoryStore::default(), |layer| layer.jwt_cookies(tokens)).await
    }

    /// `method path` with the session cookie `cookie`.
    async fn with_cookie(&self, method: &str, path: &str, cookie: &str) -> Answer {
        let before = self.store.calls();
        let req = match method {
            "GET" => self.server.get(path),
            _ => self.server.post(path),
        };
        let res = req.session(cookie).send().await.unwrap();
        let status = res.status().as_u16();
        let cookie = set_cookie(res.headers());
        let body = res.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            body,
            cookie,
            store_calls: self.store.calls() - before,
        }
    }

    /// Signs `user` in: the cookie set and the login's answer.
    async fn cookie_login(&self, user: &str) -> (String, Value) {
        let res = self.server.post("/login").json(&user).send().await.unwrap();
        assert_eq!(res.status(), 200, "login");
        let cookie = set_cookie(res.headers()).expect("a login sets the cookie");
        (cookie, res.json().await.unwrap())
    }
}

#[tokio::test]
async fn a_stateful_jwt_cookie_works_as_the_opaque_token_it_carries() {
    let server = Instance::jwt_cookies(access_tokens()).await;
    let before_login = unix_now();
    let (cookie, login) = server.cookie_login("alice").await;

    let (header, claims) = parts(&cookie);
    assert_eq!(header["typ"], "session+jwt");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["sid"], login["sid"]);
    assert_eq!(claims["iss"], "jwt-layer-test");
    assert_eq!(claims["tok"], login["token"], "the session's opaque token");
    let exp = claims["exp"].as_u64().unwrap();
    let eight_hours = 8 * 3600;
    assert!(
        (before_login + eight_hours..=unix_now() + eight_hours).contains(&exp),
        "exp is the absolute deadline: {claims}"
    );

    // Every request reads the store, as with the opaque cookie.
    let me = server.with_cookie("GET", "/me", &cookie).await;
    assert_eq!((me.status, me.body["user"].as_str()), (200, Some("alice")));
    assert!(me.store_calls >= 1 && me.cookie.is_none());
    // The same JWT as a bearer token, and the opaque token as the cookie, reach the session too.
    let res = server.server.get("/me").bearer_auth(&cookie).send().await;
    assert_eq!(res.unwrap().status(), 200);
    let opaque = opaque_token(&cookie).to_text();
    assert_eq!(server.with_cookie("GET", "/me", &opaque).await.status, 200);

    let out = server.with_cookie("POST", "/logout", &cookie).await;
    assert_eq!((out.status, out.cookie.as_deref()), (204, Some("")));
    assert_eq!(server.with_cookie("GET", "/me", &cookie).await.status, 401);
    assert_eq!(server.refusals().await, ["unknown"]);
}

#[tokio::test]
async fn a_login_makes_a_new_jwt_cookie_and_the_planted_one_is_dead() {
    let layer = demo::session_layer(MemoryStore::default()).jwt_cookies(access_tokens());
    let server = serve(demo::app().layer(layer)).await;
    let res = server
        .put("/api/prefs")
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let planted = set_cookie(res.headers()).expect("an anonymous session's cookie");
    let (_, claims) = parts(&planted);
    assert!(
        claims.get("sub").is_none(),
        "anonymous: no subject {claims}"
    );

    let res = server
        .post("/login")
        .session(&planted)
        .json(&json!({"username": "alice", "password": "wonderland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let signed_in = set_cookie(res.headers()).expect("a new cookie");
    let (_, claims) = parts(&signed_in);
    assert_eq!(claims["sub"], "alice");
    assert_ne!(opaque_token(&signed_in), opaque_token(&planted));

    let prefs = |cookie: String| {
        let req = server.get("/api/prefs").session(&cookie);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(prefs(signed_in.clone()).await, json!({"theme": "dark"}));
    assert_eq!(
        prefs(planted.clone()).await,
        json!({}),
        "the planted cookie is dead"
    );
    let res = server
        .get("/api/me")
        .session(&planted)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn forged_foreign_and_mistyped_cookies_are_no_session_and_audited() {
    let server = Instance::jwt_cookies(access_tokens()).await;
    let (cookie, login) = server.cookie_login("alice").await;
    let (_, bob) = server.cookie_login("bob").await;
    let (header, claims) = parts(&cookie);

    // Claims changed under the signature: another user, or another session's token.
    let mut as_bob = claims.clone();
    as_bob["sub"] = json!("bob");
    let mut bobs_token = claims.clone();
    bobs_token["tok"] = bob["token"].clone();
    // Signed with another key under the same kid; with alg none; an access token.
    let other =
        AccessTokens::new(KeyRing::from_secret([7u8; 32]).unwrap()).issuer("jwt-layer-test");
    let foreign = Instance::jwt_cookies(other)
        .await
        .cookie_login("alice")
        .await
        .0;
    let mut none = header.clone();
    none["alg"] = json!("none");
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(none.to_string()),
        cookie.split('.').nth(1).unwrap()
    );
    let access = login["jwt"].as_str().unwrap().to_owned();
    let cases = [
        (with_claims(&cookie, &as_bob), "bad_signature"),
        (with_claims(&cookie, &bobs_token), "bad_signature"),
        (foreign, "bad_signature"),
        (alg_none, "alg_none"),
        (access, "wrong_type"),
        ("x.y.z".to_owned(), "malformed"),
    ];
    server.refusals().await;
    for (forged, reason) in &cases {
        let answer = server.with_cookie("GET", "/me", forged).await;
        assert_eq!(answer.status, 401, "{reason}");
        assert_eq!(
            answer.store_calls, 0,
            "refused before any store call: {reason}"
        );
        assert_eq!(server.refusals().await, [*reason]);
    }
    // The genuine cookie still works: nothing was changed by the forgeries.
    assert_eq!(server.with_cookie("GET", "/me", &cookie).await.status, 200);
    // A layer without JWT cookies takes none, however well signed.
    let opaque_only = serve(
        jwt_layer_support::app()
            .layer(SessionLayer::new(MemoryStore::default()).access_tokens(access_tokens())),
    )
    .await;
    let res = opaque_only
        .get("/me")
        .session(&cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_fresh_stateless_cookie_needs_no_store_read_and_a_logout_here_refuses_it_at_once() {
    let tokens = access_tokens()
        .lifetime(Duration::from_secs(600))
        .stateless(16);
    let server = Instance::jwt_cookies(tokens).await;
    let before = unix_now();
    let (cookie, login) = server.cookie_login("alice").await;
    let exp = parts(&cookie).1["exp"].as_u64().unwrap();
    assert!(
        (before + 600..=unix_now() + 600).contains(&exp),
        "one lifetime"
    );

    for _ in 0..3 {
        let who = server.with_cookie("GET", "/whoami", &cookie).await;
        assert_eq!((who.status, who.store_calls), (200, 0));
        assert_eq!(who.body["sid"], login["sid"]);
        assert!(who.cookie.is_none(), "a fresh cookie is not re-issued");
    }
    // The proof that nothing is read: with the store down, authentication still works.
    server.store.set_down(true);
    assert_eq!(
        server.with_cookie("GET", "/whoami", &cookie).await.status,
        200
    );
    assert_eq!(
        server.with_cookie("GET", "/record", &cookie).await.status,
        503
    );
    server.store.set_down(false);

    let out = server.with_cookie("POST", "/logout", &cookie).await;
    assert_eq!((out.status, out.cookie.as_deref()), (204, Some("")));
    server.refusals().await;
    let after = server.with_cookie("GET", "/whoami", &cookie).await;
    assert_eq!(
        (after.status, after.store_calls),
        (401, 0),
        "by the denylist"
    );
    assert_eq!(server.refusals().await, ["revoked"]);
}

#[tokio::test]
async fn a_stateless_cookie_in_its_second_half_reads_the_store_and_is_reissued() {
    let tokens = access_tokens()
        .lifetime(Duration::from_secs(4))
        .stateless(16);
    let server = Instance::jwt_cookies(tokens).await;
    let (first, login) = server.cookie_login("alice").await;
    let (_, claims) = parts(&first);
    let exp = claims["exp"].as_u64().unwrap();

    // Into the second half: at most two seconds left.
    sleep_past((exp - 2) * 1000).await;
    let who = server.with_cookie("GET", "/whoami", &first).await;
    assert_eq!(who.status, 200);
    assert!(who.store_calls >= 1, "the session is read");
    let second = who.cookie.expect("re-issued");
    let (_, renewed) = parts(&second);
    assert!(renewed["exp"].as_u64().unwrap() > exp, "{renewed}");
    assert_eq!(renewed["sid"], login["sid"]);
    assert_eq!(renewed["tok"], claims["tok"], "the same session token");

    // The renewed one is trusted on its own again.
    let who = server.with_cookie("GET", "/whoami", &second).await;
    assert_eq!((who.status, who.store_calls), (200, 0));
    assert!(who.cookie.is_none());
    // Past its `exp`, the old one still reaches the session through the store, and is
    // renewed again: an idle user is not signed out by the cookie, only by the session's
    // own deadlines.
    sleep_past((exp + 1) * 1000).await;
    let who = server.with_cookie("GET", "/whoami", &first).await;
    assert_eq!(who.status, 200);
    assert!(who.cookie.is_some());
}

#[tokio::test]
async fn the_absolute_deadline_holds_for_a_stateless_cookie() {
    let tokens = access_tokens()
        .lifetime(Duration::from_secs(600))
        .stateless(16);
    let server = Instance::with(MemoryStore::default(), |layer| {
        layer
            .absolute_timeout(Duration::from_secs(1))
            .jwt_cookies(tokens)
    })
    .await;
    let before = unix_now();
    let (cookie, _) = server.cookie_login("alice").await;
    let exp = parts(&cookie).1["exp"].as_u64().unwrap();
    assert!(exp <= before + 2, "never past the absolute deadline: {exp}");

    sleep_past((exp + 1) * 1000).await;
    let who = server.with_cookie("GET", "/whoami", &cookie).await;
    assert_eq!(who.status, 401);
    assert_eq!(who.body["error"], "session_expired");
    assert!(who.store_calls >= 1, "the store decides");
}
