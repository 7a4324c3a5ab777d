//! Shared by the benches: one request through a router, in process, and the routers.

pub mod bearer;
pub mod floors;
pub mod interleaved;
pub mod routers;
pub mod store_cleanup;

use axum::body::{to_bytes, Body, Bytes};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

/// Sends one GET through `app` (a clone of it, as `oneshot` consumes the service), reads the
/// whole body, and returns the status, the first `Set-Cookie` as `name=value`, and the body.
pub async fn send(
    app: &Router,
    path: &str,
    cookie: Option<&HeaderValue>,
) -> (StatusCode, Option<HeaderValue>, Bytes) {
    send_with(app, path, cookie.map(|value| (COOKIE, value))).await
}

/// As [`send`], with `Authorization: <value>` (say, `Bearer <jwt>`).
pub async fn send_authorized(
    app: &Router,
    path: &str,
    authorization: &HeaderValue,
) -> (StatusCode, Option<HeaderValue>, Bytes) {
    send_with(app, path, Some((AUTHORIZATION, authorization))).await
}

async fn send_with(
    app: &Router,
    path: &str,
    header: Option<(HeaderName, &HeaderValue)>,
) -> (StatusCode, Option<HeaderValue>, Bytes) {
    let mut req = Request::get(path);
    if let Some((name, value)) = header {
        req = req.header(name, value.clone());
    }
    let req = req.body(Body::empty()).expect("valid request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let set_cookie = res.headers().get(SET_COOKIE).map(|v| {
        let pair = v
            .as_bytes()
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        HeaderValue::from_bytes(pair).expect("a cookie pair is a valid header value")
    });
    let body = to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body readable");
    (status, set_cookie, body)
}

/// The token hash of the session whose cookie (`name=token`, as [`send`] returns it) is
/// `cookie`: the key a store keeps that session under.
pub fn token_hash(cookie: &HeaderValue) -> Option<sessionward::token::TokenHash> {
    let (_, token) = cookie.to_str().ok()?.split_once('=')?;
    Some(sessionward::token::SessionToken::parse(token.as_bytes())?.hash())
}

/// Where criterion writes: `$CARGO_TARGET_DIR/criterion`, else `criterion` in the target
/// directory this bench runs from (`target/<profile>/deps/<bench>`).
pub fn criterion_dir() -> store_cleanup::Fallible<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(std::path::PathBuf::from(dir).join("criterion"));
    }
    let exe =
        std::env::current_exe().map_err(|e| store_cleanup::err("finding the bench binary", e))?;
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("criterion"))
        .ok_or_else(|| "the bench binary is not in target/<profile>/deps".to_owned())
}

/// The quartiles of `values` (sorted in place), NaN when there are none.
pub fn quartiles(values: &mut [f64]) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| {
        values
            .get(values.len() * q / 4)
            .copied()
            .unwrap_or(f64::NAN)
    };
    [at(1), at(2), at(3)]
}

/// 64 well-mixed bits of `n` (splitmix64).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `N` bytes that differ for every `seed`: token hashes and ids as uniform as real ones, which
/// the memory store's indexes rely on.
pub fn mixed<const N: usize>(seed: u64) -> [u8; N] {
    let mut bytes = [0u8; N];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(seed ^ ((i as u64) << 56)).to_le_bytes()[..chunk.len()]);
    }
    bytes
}
