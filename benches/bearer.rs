//! Per-request cost of JWT access tokens (`Authorization: Bearer`), in process (no network),
//! beside the opaque cookie and a minimal hand-written JWT layer, all in one run.
//!
//! | group | stacks | what the handler does |
//! |---|---|---|
//! | `bearer-r` | `bare`, `cookie`, `tower-sessions`, `bearer-stateful`, `bearer-stateless`, `bearer-stateful-verify-each` | reads one `u64` of the session's data (`/r`) |
//! | `bearer-who` | `bare`, `jsonwebtoken-layer`, `bearer-stateful`, `bearer-stateless`, `bearer-stateless-verify-each` | answers the signed-in user (`/who`, `Authenticated` only) |
//! | `verify` | `access-tokens` | `AccessTokens::verify` of the same token alone: one signature check and the claims |
//!
//! * `bare`: plain axum, the same handlers without sessions: the baseline;
//! * `cookie`: sessionward's opaque cookie over its `MemoryStore`;
//! * `tower-sessions`: tower-sessions 0.15's cookie session over its `MemoryStore`, the peer;
//! * `bearer-stateful`: an HS256 access token of the same session, whose session is read by
//!   its `sid` on every request (the default mode);
//! * `bearer-stateless`: the same token with `AccessTokens::stateless`: `/who` reads nothing,
//!   `/r` reads the record by `sid` for its data;
//! * `bearer-*-verify-each`: the same with `remember_verified_tokens(0)`: every request's token
//!   is decoded, parsed and its signature checked, as a token's first request is (the layer
//!   otherwise remembers a verified token, and a repeat skips all that);
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
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use sessionward_bench::bearer::{
    access_tokens, bare, call, jsonwebtoken_layer, sessionward, sessionward_verifying_each,
    sign_in, Credential,
};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
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
    // The same sessions under one key ring: each stack's own token is valid for the other.
    let stateful_each = sessionward_verifying_each(access_tokens());
    let (_, stateful_each_jwt) = sign_in(&rt, &stateful_each);
    let stateless_each = sessionward_verifying_each(access_tokens().stateless(1024));
    let (_, stateless_each_jwt) = sign_in(&rt, &stateless_each);
    let handwritten = jsonwebtoken_layer();
    // The peer, as in requests.rs: tower-sessions' cookie session, its value set by `/new`.
    let peer = sessionward_bench::routers::tower_sessions();
    let peer_cookie = rt
        .block_on(sessionward_bench::send(&peer, "/new", None))
        .1
        .expect("tower-sessions sets its cookie");

    bench_group(
        c,
        &rt,
        "bearer-r",
        "/r",
        &[
            ("bare", bare(), Credential::None, "0"),
            ("cookie", stateful.clone(), Credential::Cookie(&cookie), "0"),
            (
                "tower-sessions",
                peer,
                Credential::Cookie(&peer_cookie),
                "0",
            ),
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
            (
                "bearer-stateful-verify-each",
                stateful_each,
                Credential::Bearer(&stateful_each_jwt),
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
            (
                "bearer-stateless-verify-each",
                stateless_each,
                Credential::Bearer(&stateless_each_jwt),
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
