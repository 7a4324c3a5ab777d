//! The stacks of the bearer benchmarks (`bearer.rs`, and `bearer_ir.rs`, which counts their
//! instructions): sessionward with JWT access tokens, bare axum, and a hand-written
//! jsonwebtoken layer; signing in, and one request with a credential.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sessionward::store::MemoryStore;
use sessionward::token::{AccessTokens, KeyRing};
use sessionward::{Authenticated, Session, SessionError, SessionLayer};
use tokio::runtime::Runtime;

use crate::{send, send_authorized};

pub const SECRET: &[u8] = b"a benchmark secret of at least 32 bytes";

pub fn access_tokens() -> AccessTokens {
    // Long enough to outlive the run.
    AccessTokens::new(KeyRing::from_secret(SECRET).expect("valid secret"))
        .lifetime(Duration::from_secs(24 * 3600))
}

/// sessionward's routes: `/login` signs in (data `n` = 0) and answers an access token.
/// sessionward with `tokens`, remembering verified tokens as by default.
pub fn sessionward(tokens: AccessTokens) -> Router {
    sessionward_with(SessionLayer::new(MemoryStore::default()).access_tokens(tokens))
}

/// sessionward with `tokens`, verifying every request's token in full (no verified token is
/// remembered): what a first request with a token costs.
pub fn sessionward_verifying_each(tokens: AccessTokens) -> Router {
    sessionward_with(
        SessionLayer::new(MemoryStore::default())
            .access_tokens(tokens)
            .remember_verified_tokens(0),
    )
}

fn sessionward_with(layer: SessionLayer<MemoryStore>) -> Router {
    async fn login(session: Session) -> Result<String, SessionError> {
        session.login("alice").await?;
        session.insert("n", &0u64).await?;
        Ok(session.issue_access_token().await?.token)
    }
    async fn read(session: Session) -> Result<String, SessionError> {
        Ok(session.get::<u64>("n").await?.unwrap_or(0).to_string())
    }
    async fn who(auth: Authenticated) -> String {
        auth.user().to_owned()
    }
    Router::new()
        .route("/login", get(login))
        .route("/r", get(read))
        .route("/who", get(who))
        .layer(layer)
        .with_state(())
}

pub fn bare() -> Router {
    Router::new()
        .route("/r", get(|| async { 0u64.to_string() }))
        .route("/who", get(|| async { "alice".to_owned() }))
}

#[derive(Clone, Deserialize)]
struct Claims {
    sub: String,
}

/// Decodes and validates the bearer JWT with `jsonwebtoken`, and nothing else.
pub fn jsonwebtoken_layer() -> Router {
    struct Verifier {
        key: DecodingKey,
        validation: Validation,
    }
    async fn check(State(v): State<Arc<Verifier>>, mut req: Request, next: Next) -> Response {
        let token = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let Some(Ok(data)) =
            token.map(|t| jsonwebtoken::decode::<Claims>(t, &v.key, &v.validation))
        else {
            return StatusCode::UNAUTHORIZED.into_response();
        };
        req.extensions_mut().insert(data.claims);
        next.run(req).await
    }
    async fn who(Extension(claims): Extension<Claims>) -> String {
        claims.sub
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    let verifier = Arc::new(Verifier {
        key: DecodingKey::from_secret(SECRET).expect("an HMAC secret"),
        validation,
    });
    Router::new()
        .route("/who", get(who))
        .layer(axum::middleware::from_fn_with_state(verifier, check))
}

/// Signs in on `app` and returns the session cookie and the access token's header value.
pub fn sign_in(rt: &Runtime, app: &Router) -> (HeaderValue, HeaderValue) {
    rt.block_on(async {
        let (status, cookie, body) = send(app, "/login", None).await;
        assert_eq!(status, StatusCode::OK, "login");
        let jwt = String::from_utf8(body.to_vec()).expect("a token");
        let bearer = HeaderValue::from_str(&format!("Bearer {jwt}")).expect("header value");
        (cookie.expect("a cookie"), bearer)
    })
}

/// What a request presents.
pub enum Credential<'a> {
    None,
    Cookie(&'a HeaderValue),
    Bearer(&'a HeaderValue),
}

pub async fn call(app: &Router, path: &str, credential: &Credential<'_>) -> (StatusCode, Vec<u8>) {
    let (status, _, body) = match credential {
        Credential::None => send(app, path, None).await,
        Credential::Cookie(cookie) => send(app, path, Some(cookie)).await,
        Credential::Bearer(bearer) => send_authorized(app, path, bearer).await,
    };
    (status, body.to_vec())
}
