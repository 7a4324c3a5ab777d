//! `GET /`: the dashboard, one HTML page with its style and script inline (no external
//! assets), live from `GET /events`. Its Content-Security-Policy allows that inline style and
//! script by their hashes and nothing else: no other script, no frame, no form.

use std::sync::LazyLock;

use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use http::{header, HeaderValue};
use sha2::{Digest, Sha256};

const PAGE: &str = include_str!("dashboard/page.html");
const STYLE: &str = include_str!("dashboard/style.css");
const SCRIPT: &str = include_str!("dashboard/script.js");

/// The page, and the policy that allows its inline style and script.
static DASHBOARD: LazyLock<(String, HeaderValue)> = LazyLock::new(|| {
    let page = PAGE.replace("{STYLE}", STYLE).replace("{SCRIPT}", SCRIPT);
    let hash = |text: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text));
    let policy = format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; \
         img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(SCRIPT),
        hash(STYLE)
    );
    let policy = HeaderValue::from_str(&policy).expect("the policy is ASCII");
    (page, policy)
});

/// `GET /`: the dashboard.
pub(crate) async fn page() -> Response {
    let (page, policy) = &*DASHBOARD;
    let mut response = Html(page.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
