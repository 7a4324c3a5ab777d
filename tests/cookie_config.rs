//! The session cookie's configuration: checked when the layer is built, with a typed error for
//! each rule browsers enforce (RFC 6265bis prefixes, `SameSite=None`), and what a checked one
//! sends over real HTTP: `Domain` and `Path` as set, and a persistent cookie's `Max-Age` never
//! past 400 days.

mod common;
mod jwt_layer_support;

use std::time::Duration;

use common::serve;
use sessionward::store::MemoryStore;
use sessionward::{CookieConfig, CookieConfigError, SameSite, SessionLayer};

fn layer() -> SessionLayer<MemoryStore> {
    SessionLayer::new(MemoryStore::default())
}

#[test]
fn each_rule_is_a_typed_error_when_the_layer_is_built() {
    let cases = [
        (
            CookieConfig::default().domain("example.com"),
            CookieConfigError::HostPrefixWithDomain,
        ),
        (
            CookieConfig::default().path("/app"),
            CookieConfigError::HostPrefixWithPath("/app".into()),
        ),
        (
            CookieConfig::default().secure(false),
            CookieConfigError::PrefixWithoutSecure("__Host-session".into()),
        ),
        (
            CookieConfig::default().name("__Secure-s").secure(false),
            CookieConfigError::PrefixWithoutSecure("__Secure-s".into()),
        ),
        (
            CookieConfig::default()
                .name("s")
                .secure(false)
                .same_site(SameSite::None),
            CookieConfigError::SameSiteNoneWithoutSecure,
        ),
        (
            CookieConfig::default().name("s").path("app"),
            CookieConfigError::InvalidPath("app".into()),
        ),
    ];
    for (cookie, error) in cases {
        assert_eq!(layer().try_cookie(cookie.clone()).unwrap_err(), error);
        // `cookie` says the same, at start-up.
        let panic = std::panic::catch_unwind(|| layer().cookie(cookie)).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert_eq!(*message, format!("invalid session cookie: {error}"));
    }
    assert!(layer().try_cookie(CookieConfig::default()).is_ok());
}

/// Signs in through a layer with `cookie` and returns the `Set-Cookie` line.
async fn login_set_cookie(layer: SessionLayer<MemoryStore>) -> String {
    // The routes' login also issues an access token.
    let layer = layer.access_tokens(jwt_layer_support::access_tokens());
    let server = serve(jwt_layer_support::app().layer(layer)).await;
    let res = server.post("/login").json(&"alice").send().await.unwrap();
    assert_eq!(res.status(), 200);
    session_set_cookie_named(res.headers())
}

fn session_set_cookie_named(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .next()
        .expect("a Set-Cookie")
}

#[tokio::test]
async fn domain_and_path_are_sent_as_set() {
    let cookie = CookieConfig::default()
        .name("sid")
        .domain("example.test")
        .path("/app");
    let line = login_set_cookie(layer().try_cookie(cookie).unwrap()).await;
    assert!(line.starts_with("sid="), "{line}");
    assert!(line.contains("Domain=example.test"), "{line}");
    assert!(line.contains("Path=/app"), "{line}");
    assert!(
        line.contains("HttpOnly") && line.contains("Secure"),
        "{line}"
    );
}

#[tokio::test]
async fn a_persistent_cookie_lives_at_most_400_days() {
    let thousand_days = Duration::from_secs(1000 * 24 * 3600);
    let layer = layer()
        .idle_timeout(thousand_days)
        .absolute_timeout(thousand_days)
        .cookie(CookieConfig::default().persistent(true));
    let line = login_set_cookie(layer).await;
    assert!(line.contains("Max-Age=34560000"), "400 days: {line}");

    // Within 400 days, the absolute deadline is the limit.
    let day = Duration::from_secs(24 * 3600);
    let layer = SessionLayer::new(MemoryStore::default())
        .idle_timeout(day)
        .absolute_timeout(day)
        .cookie(CookieConfig::default().persistent(true));
    let line = login_set_cookie(layer).await;
    let max_age: u64 = line
        .split("Max-Age=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.parse().ok())
        .expect("a Max-Age");
    assert!((86_390..=86_400).contains(&max_age), "{line}");
}
