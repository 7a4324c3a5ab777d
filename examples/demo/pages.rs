//! The demo's HTML pages: the home page (signed in or not), and the login form shown again
//! with its error after a failed form login. Everything that came from a client or the store
//! is escaped before it goes into the page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sessionward::csrf::CsrfToken;
use sessionward::store::SessionRecord;
use sessionward::DeviceSession;

use super::rfc3339;

/// Why a form login failed, as the page says it.
#[derive(Clone, Copy)]
pub enum LoginFailure {
    /// The user name or password is wrong: 401.
    InvalidCredentials,
    /// The form lacked a field or could not be decoded: 400.
    InvalidBody,
    /// A session limit refused the login: 409.
    SessionLimit,
}

impl LoginFailure {
    fn status(self) -> StatusCode {
        match self {
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::InvalidBody => StatusCode::BAD_REQUEST,
            Self::SessionLimit => StatusCode::CONFLICT,
        }
    }

    /// The same code a JSON client gets in `{"error": …}`, so a script reading the page can
    /// tell the two apart without parsing the prose.
    fn code(self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidBody => "invalid_body",
            Self::SessionLimit => "session_limit",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::InvalidCredentials => "Wrong user name or password.",
            Self::InvalidBody => "The form needs a user name and a password.",
            Self::SessionLimit => {
                "Too many sessions are signed in. Sign out elsewhere, or revoke a session, first."
            }
        }
    }
}

/// The home page: the session's details and a logout button when signed in, otherwise the
/// login form.
/// `token` is the session's CSRF token for the revoke buttons' forms.
pub fn home(
    record: Option<&SessionRecord>,
    devices: &[DeviceSession],
    token: Option<&CsrfToken>,
) -> Response {
    let signed_in = record.and_then(|r| r.user.as_deref().map(|u| (r, u)));
    let body = match signed_in {
        Some((record, user)) => format!(
            r#"<p>Signed in as <strong>{user}</strong>.</p>
<table>
<tr><th>Session</th><td><code>{id}</code></td></tr>
<tr><th>Created</th><td>{created}</td></tr>
<tr><th>Idle expiry</th><td>{idle}</td></tr>
<tr><th>Absolute expiry</th><td>{abs}</td></tr>
</table>
<form method="post" action="/logout"><button type="submit">Log out</button></form>
<h2>Your sessions</h2>
<table>
<tr><th>Session</th><th>Started</th><th>Last seen</th><th>Browser</th><th>IP</th><th></th></tr>
{devices}</table>"#,
            devices = devices
                .iter()
                .map(|device| device_row(device, token))
                .collect::<String>(),
            user = html_escape::encode_text(user),
            id = record.id,
            created = rfc3339(record.created_at),
            idle = rfc3339(record.idle_expires_at),
            abs = rfc3339(record.expires_at),
        ),
        None => login_form(""),
    };
    page(&body)
}

/// One row of the sessions table: a revoke button (its form carries `token`), or "this
/// device" for the current one.
fn device_row(device: &DeviceSession, token: Option<&CsrfToken>) -> String {
    let action = if device.current {
        "this device".to_owned()
    } else {
        format!(
            r#"<form method="post" action="/sessions/{id}/revoke">{token}<button type="submit">Revoke</button></form>"#,
            id = device.id,
            token = token.map(CsrfToken::hidden_input).unwrap_or_default(),
        )
    };
    format!(
        "<tr><td><code>{id}</code></td><td>{created}</td><td>{seen}</td><td>{agent}</td><td>{ip}</td><td>{action}</td></tr>\n",
        id = device.id,
        created = rfc3339(device.created_at),
        seen = rfc3339(device.last_seen_at),
        agent = html_escape::encode_text(device.user_agent.as_deref().unwrap_or("")),
        ip = device.ip.map(|ip| ip.to_string()).unwrap_or_default(),
    )
}

/// The answer to a failed form login: the error, and the form again with the user name that
/// was typed (the password never comes back).
pub fn login_failed(failure: LoginFailure, username: &str) -> Response {
    let body = format!(
        r#"<p class="error" role="alert" data-error="{code}">{message}</p>
{form}"#,
        code = failure.code(),
        message = failure.message(),
        form = login_form(username),
    );
    (failure.status(), page(&body)).into_response()
}

fn login_form(username: &str) -> String {
    format!(
        r#"<form method="post" action="/login">
<label>User <input name="username" autocomplete="username" value="{username}"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<label><input name="remember" type="checkbox"> Remember me for a week</label>
<button type="submit">Log in</button>
</form>
<p>Demo users: alice / wonderland, bob / builder, admin / admin-demo.</p>"#,
        username = html_escape::encode_double_quoted_attribute(username),
    )
}

/// The pages' one stylesheet, inline (no external assets), allowed by its hash.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}\
th{text-align:left;padding-right:1rem}label{display:block;margin:.5rem 0}.error{color:#b00020}";

/// The pages' Content-Security-Policy: nothing but the inline style (by its hash), forms that
/// post to this origin, no frames around them, no base URL to hijack, no script at all.
fn content_security_policy() -> HeaderValue {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::try_from(policy).expect("a policy is a valid header value")
}

/// A whole page around `body`, with the headers every page sends: the policy above,
/// `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
fn page(body: &str) -> Response {
    let html = Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sessionward demo</title>
<style>{STYLE}</style>
</head><body><h1>sessionward demo</h1>
{body}
</body></html>"#
    ));
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, content_security_policy());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
