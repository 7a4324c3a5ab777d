//! Session lifecycle over real HTTP on loopback: creation, fixation, login, logout, expiry,
//! cookies and bearer tokens.

mod common;

use std::time::Duration;

use common::describe::{assert_within, ms, Renewing};
use common::wait::{now_ms, sleep_past};
use common::{header, routes, serve, session_set_cookie, set_cookie, Server, WithSession};
use sessionward::store::MemoryStore;
use sessionward::{CookieConfig, SameSite, SessionLayer};

async fn server(layer: SessionLayer<MemoryStore>) -> Server {
    serve(routes::app().layer(layer)).await
}

/// Signs `user` in from a fresh client and returns the cookie token.
async fn login(server: &Server, user: &str) -> String {
    let res = server.post(&format!("/login/{user}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    set_cookie(res.headers()).expect("login sets the cookie")
}

#[tokio::test]
async fn first_write_creates_a_session_with_secure_cookie_defaults() {
    let server = server(SessionLayer::new(MemoryStore::default())).await;
    let res = server.get("/get/theme").send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "none");

    let res = server.post("/set/theme/dark").send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        header(res.headers(), "cache-control").as_deref(),
        Some("no-store")
    );
    let line = session_set_cookie(res.headers()).expect("cookie set");
    let attrs: Vec<&str> = line.split("; ").collect();
    assert!(
        attrs[0].starts_with("__Host-session=") && attrs[0].len() == "__Host-session=".len() + 43,
        "{line}"
    );
    for want in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(&want), "{want} missing in {line}");
    }
    assert!(!line.contains("Domain"), "no Domain: {line}");
    assert!(
        !line.contains("Max-Age") && !line.contains("Expires"),
        "browser-session cookie: {line}"
    );

    let token = set_cookie(res.headers()).unwrap();
    let res = server
        .get("/get/theme")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert!(
        session_set_cookie(res.headers()).is_none(),
        "a read sets no cookie"
    );
    assert!(
        header(res.headers(), "cache-control").is_none(),
        "nor Cache-Control"
    );
    assert_eq!(res.text().await.unwrap(), "dark");
}

#[tokio::test]
async fn a_session_emptied_in_its_first_request_is_not_stored() {
    let store = MemoryStore::default();
    let server = server(SessionLayer::new(store.clone())).await;
    // A new session (no cookie) whose only key is inserted and removed again.
    let res = server.post("/set-and-remove/a/1").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        session_set_cookie(res.headers()).is_none(),
        "no cookie for a session that holds nothing"
    );
    assert_eq!(res.text().await.unwrap(), "1", "the handler saw its value");
    assert!(store.is_empty(), "nothing was stored");

    // Whereas a stored session emptied later stays: its client holds the token.
    let token = {
        let res = server.post("/set/a/1").send().await.unwrap();
        set_cookie(res.headers()).unwrap()
    };
    let res = server
        .post("/remove/a")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "1");
    assert_eq!(
        store.len(),
        1,
        "a stored session stays, even with no keys left"
    );
    let res = server.get("/get/a").session(&token).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "none");
}

#[tokio::test]
async fn login_rotates_the_token_and_carries_data_over() {
    let store = MemoryStore::default();
    let server = server(SessionLayer::new(store.clone())).await;
    let res = server.post("/set/cart/apples").send().await.unwrap();
    let anonymous = set_cookie(res.headers()).unwrap();

    let res = server
        .post("/login/alice")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(res.headers(), "cache-control").as_deref(),
        Some("no-store")
    );
    let signed_in = set_cookie(res.headers()).expect("login sets a new cookie");
    assert_ne!(
        signed_in, anonymous,
        "login issues a new token (no session fixation)"
    );
    assert_eq!(
        res.text().await.unwrap(),
        signed_in,
        "the issued token is the cookie's"
    );

    let res = server
        .get("/get/cart")
        .session(&signed_in)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "apples", "data carried over");
    let res = server.get("/me").session(&signed_in).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "alice");

    // The old token is dead at once, for reads and for the protected route.
    let res = server
        .get("/get/cart")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "none");
    let res = server.get("/me").session(&anonymous).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.text().await.unwrap(), r#"{"error":"unauthenticated"}"#);
    assert_eq!(
        store.len(),
        1,
        "rotation moved the session, it did not copy it"
    );
}

#[tokio::test]
async fn accessors_describe_the_session() {
    let layer = SessionLayer::new(MemoryStore::default())
        .idle_timeout(Duration::from_secs(60))
        .absolute_timeout(Duration::from_secs(3600));
    let server = server(layer).await;
    let res = server.get("/describe").send().await.unwrap();
    let none: serde_json::Value = res.json().await.unwrap();
    for field in [
        "id",
        "user",
        "created_at",
        "expires_at",
        "record_id",
        "record_user",
        "record_last_seen_at",
        "record_idle_expires_at",
        "record_expires_at",
    ] {
        assert!(none[field].is_null(), "{field} without a session: {none}");
    }

    let token = login(&server, "alice").await;
    let res = server
        .get("/describe")
        .session(&token)
        .send()
        .await
        .unwrap();
    let got: serde_json::Value = res.json().await.unwrap();
    assert_eq!(got["user"], "alice");
    assert_eq!(got["record_user"], "alice");
    let id = got["id"].as_str().expect("an id");
    assert_eq!(id.len(), 22);
    assert_eq!(got["record_id"], id);
    let (created, expires) = (got["created_at"].as_u64(), got["expires_at"].as_u64());
    let (created, expires) = (created.expect("created_at"), expires.expect("expires_at"));
    assert_eq!(
        expires - created,
        60_000,
        "the idle deadline comes first: {got}"
    );
}

#[tokio::test]
async fn an_unknown_token_is_never_adopted() {
    let store = MemoryStore::default();
    let server = server(SessionLayer::new(store.clone())).await;
    // Well-formed but unknown: an attacker planting a token they chose.
    let planted = "A".repeat(43);
    let res = server
        .post("/set/x/1")
        .session(&planted)
        .send()
        .await
        .unwrap();
    let issued = set_cookie(res.headers()).expect("a new session gets a fresh token");
    assert_ne!(issued, planted);
    let res = server
        .post("/login/alice")
        .session(&planted)
        .send()
        .await
        .unwrap();
    assert_ne!(set_cookie(res.headers()).unwrap(), planted);
    let res = server.get("/me").session(&planted).send().await.unwrap();
    assert_eq!(res.status(), 401, "the planted token never becomes valid");
}

#[tokio::test]
async fn logout_kills_the_token_and_clears_the_cookie() {
    let store = MemoryStore::default();
    let server = server(SessionLayer::new(store.clone())).await;
    let token = login(&server, "alice").await;
    let res = server.post("/logout").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let line = session_set_cookie(res.headers()).expect("logout clears the cookie");
    assert!(line.starts_with("__Host-session=;"), "{line}");
    assert!(line.contains("Max-Age=0"), "{line}");
    assert_eq!(
        header(res.headers(), "cache-control").as_deref(),
        Some("no-store")
    );
    assert!(store.is_empty(), "the session is deleted from the store");
    for path in ["/me", "/me"] {
        let res = server.get(path).session(&token).send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = server
        .get("/me")
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "dead as a bearer token too");
}

// In both tests below every request on the busy session writes a renewal; only a stall of
// seconds between two of them would end it early. Expiry is checked one-sided: after the
// deadline, refused.

#[tokio::test]
async fn idle_sessions_expire_and_activity_renews_them() {
    const IDLE: u64 = 3000;
    let store = MemoryStore::default();
    let layer = SessionLayer::new(store.clone()).idle_timeout(Duration::from_millis(IDLE));
    let server = server(layer).await;
    let start = now_ms();
    let active = login(&server, "alice").await;
    let mut busy = Renewing::after((start, now_ms()), IDLE);
    let idle = login(&server, "bob").await;
    // Bob's idle deadline is at most this (and alice's first one earlier still).
    let idle_ends_by = now_ms() + IDLE;

    let (mut login_deadline, mut described) = (None, 0);
    while busy.window.0 <= idle_ends_by {
        busy.wait().await;
        let got = busy.describe(&server, &active).await;
        assert_eq!(got["user"], "alice", "activity keeps the session alive");
        let deadline = ms(&got, "record_idle_expires_at");
        let last_seen = ms(&got, "record_last_seen_at");
        assert_eq!(deadline, last_seen + IDLE, "counted from the last activity");
        assert_eq!(
            ms(&got, "expires_at"),
            deadline,
            "the idle deadline comes first"
        );
        login_deadline.get_or_insert(deadline);
        described += 1;
    }
    assert!(described >= 3, "{described} requests: two renewals seen");
    assert!(
        busy.window.0 > login_deadline.unwrap(),
        "alice was still signed in past the idle deadline her login set"
    );

    // Bob was never used after login; his deadline has passed.
    let res = server.get("/me").session(&idle).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.text().await.unwrap(), r#"{"error":"session_expired"}"#);
    let res = server.get("/me").session(&idle).send().await.unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"error":"unauthenticated"}"#,
        "an expired session is deleted on first sight"
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn the_absolute_lifetime_is_never_extended() {
    // Renewal is written every 750 ms (idle / 4); from 1 s on, the idle deadline it sets is
    // capped at the absolute one.
    const IDLE: u64 = 3000;
    const LIFETIME: u64 = 4000;
    let layer = SessionLayer::new(MemoryStore::default())
        .idle_timeout(Duration::from_millis(IDLE))
        .absolute_timeout(Duration::from_millis(LIFETIME));
    let server = server(layer).await;
    let start = now_ms();
    let token = login(&server, "alice").await;
    let signed_in = (start, now_ms());
    let mut busy = Renewing::after(signed_in, IDLE);

    // A rotation first, then requests that each renew the idle deadline.
    busy.wait().await;
    let res = busy.send(server.post("/rotate").session(&token)).await;
    assert_eq!(res.status(), 200);
    let token = set_cookie(res.headers()).expect("rotate sets a new cookie");
    let (mut absolute, mut renewals, mut capped) = (None, 0, false);
    loop {
        let sent = busy.wait().await;
        if absolute.is_some_and(|absolute| sent >= absolute) {
            break;
        }
        let got = busy.describe(&server, &token).await;
        if got["id"].is_null() {
            // Ended by this request: the server's clock had reached the deadline.
            assert!(
                absolute.is_some_and(|absolute| busy.window.1 >= absolute),
                "ended before its absolute deadline"
            );
            break;
        }
        let expires = ms(&got, "record_expires_at");
        let absolute = *absolute.get_or_insert(expires);
        assert_eq!(expires, absolute, "no renewal or rotation moves it");
        assert_within(absolute - LIFETIME, signed_in, "counted from login");
        let idle = ms(&got, "record_idle_expires_at");
        assert_eq!(
            idle,
            (ms(&got, "record_last_seen_at") + IDLE).min(absolute),
            "a renewal moves the idle deadline, never past the absolute one"
        );
        renewals += 1;
        capped |= idle == absolute;
    }
    assert!(renewals >= 2, "{renewals} renewals");
    assert!(capped, "the session was active up to its absolute deadline");

    // Active (its idle deadline is the absolute one), yet over.
    sleep_past(absolute.expect("described at least once")).await;
    let res = server.get("/me").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.text().await.unwrap(), r#"{"error":"session_expired"}"#);
}

#[tokio::test]
async fn rotate_keeps_the_session_and_kills_the_old_token() {
    let server = server(SessionLayer::new(MemoryStore::default())).await;
    let old = login(&server, "alice").await;
    let res = server.post("/set/k/v").session(&old).send().await.unwrap();
    assert!(
        set_cookie(res.headers()).is_none(),
        "an update keeps the token"
    );
    let res = server.post("/rotate").session(&old).send().await.unwrap();
    let new = set_cookie(res.headers()).unwrap();
    assert_ne!(new, old);
    let res = server.get("/get/k").session(&new).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "v");
    let res = server.get("/me").session(&old).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn persistent_cookies_never_outlive_the_absolute_lifetime() {
    let layer = SessionLayer::new(MemoryStore::default())
        .absolute_timeout(Duration::from_secs(3600))
        .cookie(
            CookieConfig::default()
                .persistent(true)
                .same_site(SameSite::Strict)
                .name("sid"),
        );
    let server = serve(routes::app().layer(layer)).await;
    let res = server.post("/login/alice").send().await.unwrap();
    let line: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(line.len(), 1);
    let line = &line[0];
    assert!(line.starts_with("sid="), "{line}");
    assert!(line.contains("SameSite=Strict"), "{line}");
    let max_age: u64 = line
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .expect("persistent cookie has Max-Age")
        .parse()
        .unwrap();
    assert!(
        (3590..=3600).contains(&max_age),
        "Max-Age {max_age} is the time left until the absolute deadline"
    );
}

#[tokio::test]
async fn bearer_tokens_work_and_come_first() {
    let server = server(SessionLayer::new(MemoryStore::default())).await;
    let alice = login(&server, "alice").await;
    let bob = login(&server, "bob").await;
    let res = server
        .get("/me")
        .header("authorization", format!("Bearer {alice}"))
        .session(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "alice",
        "Authorization: Bearer wins over the cookie"
    );

    // A bearer client's writes and rotations never set a cookie; the token comes in the body.
    let res = server
        .post("/rotate")
        .header("authorization", format!("bearer {alice}"))
        .send()
        .await
        .unwrap();
    assert!(
        session_set_cookie(res.headers()).is_none(),
        "no cookie for bearer clients"
    );
    assert_eq!(
        header(res.headers(), "cache-control").as_deref(),
        Some("no-store"),
        "a response carrying a new token in its body is never cached"
    );
    let rotated = res.text().await.unwrap();
    assert_eq!(rotated.len(), 43);
    let res = server
        .get("/me")
        .header("authorization", format!("Bearer {rotated}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "alice");

    // Signing in on a bearer request: the same, for login.
    let res = server
        .post("/login/alice")
        .header("authorization", format!("Bearer {rotated}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        session_set_cookie(res.headers()).is_none(),
        "no cookie for bearer clients"
    );
    assert_eq!(
        header(res.headers(), "cache-control").as_deref(),
        Some("no-store"),
        "a response carrying a new token in its body is never cached"
    );
    let signed_in = res.text().await.unwrap();
    assert_ne!(signed_in, rotated, "login issues a new token");
    let res = server
        .get("/me")
        .header("authorization", format!("Bearer {signed_in}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "alice");
    let res = server
        .get("/me")
        .header("authorization", format!("Bearer {rotated}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the token login replaced is dead");

    // An invalid bearer token is not rescued by a valid cookie.
    let res = server
        .get("/me")
        .header("authorization", format!("Bearer {alice}"))
        .session(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        header(res.headers(), "www-authenticate").as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
}

#[tokio::test]
async fn bearer_is_ignored_when_disabled() {
    let server = server(SessionLayer::new(MemoryStore::default()).bearer(false)).await;
    let alice = login(&server, "alice").await;
    let res = server
        .get("/me")
        .header("authorization", format!("Bearer {alice}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = server.get("/me").session(&alice).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // A cookie-only app does not challenge clients to send a bearer token.
    let res = server.get("/me").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(header(res.headers(), "www-authenticate").is_none());
    assert_eq!(res.text().await.unwrap(), r#"{"error":"unauthenticated"}"#);
}

#[tokio::test]
async fn rejections_are_json_with_the_right_challenge() {
    let server = server(SessionLayer::new(MemoryStore::default())).await;
    let res = server.get("/me").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        header(res.headers(), "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        header(res.headers(), "www-authenticate").as_deref(),
        Some("Bearer")
    );
    assert_eq!(res.text().await.unwrap(), r#"{"error":"unauthenticated"}"#);

    let res = server
        .get("/me")
        .session(&"B".repeat(43))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        header(res.headers(), "www-authenticate").as_deref(),
        Some("Bearer"),
        "an invalid cookie gets the challenge a request without a credential gets"
    );

    // An anonymous session is not a signed-in one.
    let res = server.post("/set/a/b").send().await.unwrap();
    let anonymous = set_cookie(res.headers()).unwrap();
    let res = server.get("/me").session(&anonymous).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn route_layer_and_missing_layer() {
    use axum::routing::get;
    use sessionward::Session;
    let app = axum::Router::new()
        .route(
            "/with",
            get(|s: Session| async move { format!("{:?}", s.user().await.unwrap()) }),
        )
        .route_layer(SessionLayer::new(MemoryStore::default()))
        .route("/without", get(|_: Session| async { "unreachable" }));
    let server = serve(app).await;
    let res = server.get("/with").send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "None");
    let res = server.get("/without").send().await.unwrap();
    assert_eq!(res.status(), 500, "a route without the layer is an app bug");
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"error":"session_layer_missing"}"#
    );
}

#[tokio::test]
async fn store_round_trips_per_request() {
    common::assert_round_trips(MemoryStore::default()).await;
}
