//! Bearer clients of the demo: JWT access tokens with a refresh token, at `POST /api/token`
//! and `POST /api/token/refresh`, configured by `SESSIONWARD_JWT_KEYS` (`kid=secret,…`: the
//! first signs, all verify), else `SESSIONWARD_JWT_SECRET` (one HS256 secret), else a random
//! secret (a warning says that tokens then die with the process), and `SESSIONWARD_ACCESS_TTL`
//! (seconds an access token lives; 300), and `SESSIONWARD_BEARER_MODE` (`stateful`: every
//! request reads its session, so a logout or revocation acts at once everywhere; `stateless`:
//! no store read to authenticate, so a revocation acts at once on the instance that made it
//! and elsewhere when the access token expires). `SESSIONWARD_COOKIE_TOKEN=jwt` puts a JWT
//! signed with the same keys in the session cookie.

use std::time::Duration;

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sessionward::store::SessionStore;
use sessionward::token::{AccessTokens, KeyRing};
use sessionward::{Session, SessionLayer};

use super::{check, env_or, error, timeouts, Credentials};

/// Access tokens signed with a random key made once per process, so that every layer of
/// the process (two instances in one test) accepts the others' tokens and cookies.
pub fn random_tokens() -> AccessTokens {
    static RING: std::sync::OnceLock<KeyRing> = std::sync::OnceLock::new();
    let ring =
        RING.get_or_init(|| KeyRing::random().expect("the OS random number generator works"));
    AccessTokens::new(ring.clone())
}

/// `layer` with access tokens signed by a random key (`from_env` replaces them), and with
/// JWT session cookies when `SESSIONWARD_COOKIE_TOKEN=jwt` (`opaque`, the default: the bare
/// token). Any other value stops the demo with status 2.
pub fn with_cookie_token<S: SessionStore>(layer: SessionLayer<S>) -> SessionLayer<S> {
    match std::env::var("SESSIONWARD_COOKIE_TOKEN").as_deref() {
        Err(_) | Ok("opaque") => layer.access_tokens(random_tokens()),
        Ok("jwt") => layer.jwt_cookies(random_tokens()),
        Ok(other) => {
            eprintln!("SESSIONWARD_COOKIE_TOKEN={other:?} is not valid: opaque or jwt");
            std::process::exit(2);
        }
    }
}

/// `layer` with the access tokens the environment configures; an invalid key list, secret or
/// lifetime stops the demo with status 2 (no message repeats a secret).
pub fn from_env<S: SessionStore>(layer: SessionLayer<S>) -> SessionLayer<S> {
    let ttl = match env_or("SESSIONWARD_ACCESS_TTL", 300u64) {
        0 => {
            eprintln!("SESSIONWARD_ACCESS_TTL=0 is not valid: at least 1 second");
            std::process::exit(2);
        }
        secs => Duration::from_secs(secs),
    };
    let tokens = if let Ok(keys) = std::env::var("SESSIONWARD_JWT_KEYS") {
        AccessTokens::new(KeyRing::from_shared_secrets(&keys).unwrap_or_else(|err| {
            eprintln!("SESSIONWARD_JWT_KEYS: {err}");
            std::process::exit(2);
        }))
    } else if let Ok(secret) = std::env::var("SESSIONWARD_JWT_SECRET") {
        AccessTokens::new(KeyRing::from_secret(secret).unwrap_or_else(|err| {
            eprintln!("SESSIONWARD_JWT_SECRET: {err}");
            std::process::exit(2);
        }))
    } else {
        tracing::warn!(
            "no SESSIONWARD_JWT_SECRET or SESSIONWARD_JWT_KEYS: access tokens are signed with a \
             random key, so they end with this process and no other instance accepts them"
        );
        random_tokens()
    };
    let tokens = match std::env::var("SESSIONWARD_BEARER_MODE").as_deref() {
        Err(_) | Ok("stateful") => tokens,
        // Room for the sessions ended within one access token lifetime on this instance; more,
        // and requests read their session until the oldest entries expire.
        Ok("stateless") => tokens.stateless(DENYLIST_CAPACITY),
        Ok(other) => {
            eprintln!("SESSIONWARD_BEARER_MODE={other:?} is not valid: stateful or stateless");
            std::process::exit(2);
        }
    };
    layer.access_tokens(tokens.lifetime(ttl))
}

/// Sessions the stateless mode's denylist holds (about 1 MB).
const DENYLIST_CAPACITY: usize = 10_000;

/// `POST /api/token {"username","password"}`: a bearer session, answered with its token pair.
pub async fn token(session: Session, req: Request) -> Response {
    let Ok(Json(creds)) = Json::<Credentials>::from_request(req, &()).await else {
        return error(StatusCode::BAD_REQUEST, "invalid_body");
    };
    if !check(&creds) {
        tracing::info!(user = ?creds.username, "token request refused");
        session
            .login_failed(&creds.username, "invalid_credentials")
            .await;
        return error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let login = timeouts::login_of(&creds.username, creds.remember);
    match session.sign_in_bearer(login).await {
        Ok(tokens) => Json(tokens).into_response(),
        Err(err) => err.into_response(),
    }
}

#[derive(Deserialize)]
struct Refresh {
    refresh_token: String,
}

/// `POST /api/token/refresh {"refresh_token"}`: the next pair; a used token is refused with
/// 401 and its session revoked.
pub async fn refresh(session: Session, req: Request) -> Response {
    let Ok(Json(body)) = Json::<Refresh>::from_request(req, &()).await else {
        return error(StatusCode::BAD_REQUEST, "invalid_body");
    };
    match session.refresh_bearer(&body.refresh_token).await {
        Ok(tokens) => Json(tokens).into_response(),
        Err(err) => err.into_response(),
    }
}
