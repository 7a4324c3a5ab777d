//! Instruction counts of the bearer benchmarks' requests, for a verdict a shared machine's
//! noise cannot sway: `valgrind --tool=callgrind` counts instructions, the same for the same
//! binary and inputs whatever else runs.
//!
//! `bearer_ir CASE N` makes the case's stack, signs in, sends 50 requests to warm up, then `N`
//! more (`verify` calls `AccessTokens::verify` `N` times). The instructions per request are
//! the difference between a run with `N` and one with 0, divided by `N`;
//! `python3 benches/bearer_ir.py` does the runs and prints the table (it needs valgrind).
//! Valgrind's CPU has no SHA extensions, so SHA-256 runs in software there and weighs more
//! than on the machine itself: the same for every case that verifies a token.

use std::hint::black_box;
use std::time::SystemTime;

use axum::http::StatusCode;
use sessionward_bench::bearer::{
    access_tokens, bare, call, jsonwebtoken_layer, sessionward, sign_in, Credential,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().expect("a case");
    let n: usize = args.next().and_then(|n| n.parse().ok()).expect("a count");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let stateful = sessionward(access_tokens());
    let (cookie, stateful_jwt) = sign_in(&rt, &stateful);
    let stateless = sessionward(access_tokens().stateless(1024));
    let (_, stateless_jwt) = sign_in(&rt, &stateless);
    if case == "verify" {
        let tokens = access_tokens();
        let jwt = stateful_jwt.to_str().expect("ascii")["Bearer ".len()..].to_owned();
        for _ in 0..50 + n {
            black_box(tokens.verify(black_box(&jwt), SystemTime::now())).expect("valid");
        }
        return;
    }
    let (app, path, credential) = match case.as_str() {
        "bare-r" => (bare(), "/r", Credential::None),
        "cookie-r" => (stateful, "/r", Credential::Cookie(&cookie)),
        "stateful-r" => (stateful, "/r", Credential::Bearer(&stateful_jwt)),
        "stateless-r" => (stateless, "/r", Credential::Bearer(&stateless_jwt)),
        "bare-who" => (bare(), "/who", Credential::None),
        "jsonwebtoken-who" => (
            jsonwebtoken_layer(),
            "/who",
            Credential::Bearer(&stateless_jwt),
        ),
        "stateful-who" => (stateful, "/who", Credential::Bearer(&stateful_jwt)),
        "stateless-who" => (stateless, "/who", Credential::Bearer(&stateless_jwt)),
        other => panic!("no case {other}"),
    };
    rt.block_on(async {
        for _ in 0..50 + n {
            let (status, body) = call(&app, path, &credential).await;
            assert_eq!(status, StatusCode::OK, "{case}");
            black_box(body);
        }
    });
}
