//! Shared by the benches: one request through a router, in process, and the routers.

pub mod routers;

use axum::body::{to_bytes, Body, Bytes};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

/// Sends one GET through `app` (a clone of it, as `oneshot` consumes the service), reads the
/// whole body, and returns the status, the first `Set-Cookie` as `name=value`, and the body.
pub async fn send(
    app: &Router,
    path: &str,
    cookie: Option<&HeaderValue>,
) -> (StatusCode, Option<HeaderValue>, Bytes) {
    let mut req = Request::get(path);
    if let Some(cookie) = cookie {
        req = req.header(COOKIE, cookie.clone());
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
