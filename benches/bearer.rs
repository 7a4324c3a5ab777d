//! Per-request cost of JWT access tokens (`Authorization: Bearer`), in process (no network),
//! beside the opaque cookie and a minimal hand-written JWT layer, all in one run.
//!
//! | group | stacks | what the handler does |
//! |---|---|---|
//! | `bearer-r` | `bare`, `cookie`, `bearer-stateful`, `bearer-stateless` | reads one `u64` of the session's data (`/r`) |
//! | `bearer-who` | `bare`, `jsonwebtoken-layer`, `bearer-stateful`, `bearer-stateless` | answers the signed-in user (`/who`, `Authenticated` only) |
//! | `verify` | `access-tokens` | `AccessTokens::verify` of the same token alone: one signature check and the claims |
//!
//! * `bare`: plain axum, the same handlers without sessions: the baseline;
//! * `cookie`: sessionward's opaque cookie over its `MemoryStore`;
//! * `bearer-stateful`: an HS256 access token of the same session, whose session is read by
//!   its `sid` on every request (the default mode);
//! * `bearer-stateless`: the same token with `AccessTokens::stateless`: `/who` reads nothing,
//!   `/r` reads the record by `sid` for its data;
//! * `jsonwebtoken-layer`: an `axum::middleware::from_fn` that only decodes and validates the
//!   same token with `jsonwebtoken::decode` (HS256, `exp` and `sub` required) and puts the claims
//!   in the request: the least a hand-rolled JWT check does.
//!
//! The targets (issue #18): stateful `/r` costs at most the cookie's `/r` plus one `verify`;
//! stateless `/who` costs less than `jsonwebtoken-layer`.
//!
//! Run with `cargo bench -p sessionward-bench --bench bearer`, then
//! `python3 benches/summarize_bearer.py` for the table.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sessionward::store::MemoryStore;
use sessionward::token::{AccessTokens, KeyRing};
use sessionward::{Authenticated, Session, SessionError, SessionLayer};
use sessionward_bench::{send, send_authorized};
use tokio::runtime::Runtime;

const SECRET: &[u8] = b"a benchmark secret of at least 32 bytes";

fn access_tokens() -> AccessTokens {
    // Long enough to outlive the run.
    AccessTokens::new(KeyRing::from_secret(SECRET).expect("valid secret"))
        .lifetime(Duration::from_secs(24 * 3600))
}

/// sessionward's routes: `/login` signs in (data `n` = 0) and answers an access token.
fn sessionward(tokens: AccessTokens) -> Router {
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
        .layer(SessionLayer::new(MemoryStore::default()).access_tokens(tokens))
        .with_state(())
}

fn bare() -> Router {
    Router::new()
        .route("/r", get(|| async { 0u64.to_string() }))
        .route("/who", get(|| async { "alice".to_owned() }))
}

#[derive(Clone, Deserialize)]
struct Claims {
    sub: String,
}

/// Decodes and validates the bearer JWT with `jsonwebtoken`, and nothing else.
fn jsonwebtoken_layer() -> Router {
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

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Signs in on `app` and returns the session cookie and the access token's header value.
fn sign_in(rt: &Runtime, app: &Router) -> (HeaderValue, HeaderValue) {
    rt.block_on(async {
        let (status, cookie, body) = send(app, "/login", None).await;
        assert_eq!(status, StatusCode::OK, "login");
        let jwt = String::from_utf8(body.to_vec()).expect("a token");
        let bearer = HeaderValue::from_str(&format!("Bearer {jwt}")).expect("header value");
        (cookie.expect("a cookie"), bearer)
    })
}

/// What a request presents.
enum Credential<'a> {
    None,
    Cookie(&'a HeaderValue),
    Bearer(&'a HeaderValue),
}

async fn call(app: &Router, path: &str, credential: &Credential<'_>) -> (StatusCode, Vec<u8>) {
    let (status, _, body) = match credential {
        Credential::None => send(app, path, None).await,
        Credential::Cookie(cookie) => send(app, path, Some(cookie)).await,
        Credential::Bearer(bearer) => send_authorized(app, path, bearer).await,
    };
    (status, body.to_vec())
}

/// Measures `path` through each stack of `stacks`, each first checked once: `200` and the
/// expected body.
fn bench_group(
    c: &mut Criterion,
    rt: &Runtime,
    group: &str,
    path: &str,
    stacks: &[(&str, Router, Credential<'_>, &str)],
) {
    let mut g = c.benchmark_group(group);
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    for (name, app, credential, expected) in stacks {
        let (status, body) = rt.block_on(call(app, path, credential));
        assert_eq!(
            (status, &body[..]),
            (StatusCode::OK, expected.as_bytes()),
            "{group} {name}"
        );
        g.bench_function(*name, |b| {
            b.to_async(rt)
                .iter(|| async { black_box(call(app, path, credential).await) })
        });
    }
    g.finish();
}

fn bearer(c: &mut Criterion) {
    let rt = runtime();
    let stateful = sessionward(access_tokens());
    let (cookie, stateful_jwt) = sign_in(&rt, &stateful);
    let stateless = sessionward(access_tokens().stateless(1024));
    let (_, stateless_jwt) = sign_in(&rt, &stateless);
    let handwritten = jsonwebtoken_layer();

    bench_group(
        c,
        &rt,
        "bearer-r",
        "/r",
        &[
            ("bare", bare(), Credential::None, "0"),
            ("cookie", stateful.clone(), Credential::Cookie(&cookie), "0"),
            (
                "bearer-stateful",
                stateful.clone(),
                Credential::Bearer(&stateful_jwt),
                "0",
            ),
            (
                "bearer-stateless",
                stateless.clone(),
                Credential::Bearer(&stateless_jwt),
                "0",
            ),
        ],
    );
    bench_group(
        c,
        &rt,
        "bearer-who",
        "/who",
        &[
            ("bare", bare(), Credential::None, "alice"),
            (
                "jsonwebtoken-layer",
                handwritten,
                Credential::Bearer(&stateless_jwt),
                "alice",
            ),
            (
                "bearer-stateful",
                stateful,
                Credential::Bearer(&stateful_jwt),
                "alice",
            ),
            (
                "bearer-stateless",
                stateless,
                Credential::Bearer(&stateless_jwt),
                "alice",
            ),
        ],
    );

    let tokens = access_tokens();
    let jwt = stateful_jwt.to_str().expect("ascii")["Bearer ".len()..].to_owned();
    assert!(tokens.verify(&jwt, SystemTime::now()).is_ok());
    let mut g = c.benchmark_group("verify");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    g.bench_function("access-tokens", |b| {
        b.iter(|| black_box(tokens.verify(black_box(&jwt), SystemTime::now())))
    });
    g.finish();
}

criterion_group!(benches, bearer);
criterion_main!(benches);
