//! Cross-origin request protection (`sessionward::csrf::CrossOriginLayer`) in front of the
//! demo's routes and session layer, over real HTTP on loopback: one test per row of the rule,
//! the bearer exemption, login CSRF and anonymous sessions. A refusal is 403
//! `{"error":"csrf"}`, reaches no handler (nothing is created or changed), and is audited.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use common::audit::Recorder;
use common::{header, serve, set_cookie, Server, WithSession};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use sessionward::audit::{AuditHandle, AuditKind};
use sessionward::csrf::CrossOriginLayer;
use sessionward::store::MemoryStore;

const TRUSTED: &str = "https://front.example";

struct Demo {
    server: Server,
    recorder: Recorder,
    audit: AuditHandle,
}

impl Demo {
    async fn start() -> Self {
        let recorder = Recorder::default();
        let audit = AuditHandle::new(recorder.clone());
        let sessions = demo::session_layer(MemoryStore::default()).audit_through(audit.clone());
        let csrf = CrossOriginLayer::new()
            .trust_origin(TRUSTED)
            .unwrap()
            .audit_through(audit.clone());
        let server = serve(demo::app().layer(sessions).layer(csrf)).await;
        Self {
            server,
            recorder,
            audit,
        }
    }

    /// This server's own origin, as a browser would send it.
    fn origin(&self) -> String {
        self.server.base.clone()
    }

    fn login(&self, method: Method) -> RequestBuilder {
        self.server
            .client
            .request(method, format!("{}/login", self.server.base))
            .json(&json!({"username": "alice", "password": "wonderland"}))
    }

    /// The `csrf_rejected` reasons audited since the last call.
    async fn refusals(&self) -> Vec<String> {
        self.recorder
            .take(&self.audit)
            .await
            .into_iter()
            .filter(|e| e.event == AuditKind::CsrfRejected)
            .map(|e| e.reason.unwrap_or_default().into_owned())
            .collect()
    }
}

/// Sends `req` and asserts it was refused: 403 `{"error":"csrf"}`, no cookie, one audit event.
async fn assert_refused(demo: &Demo, req: RequestBuilder, reason: &str) {
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 403, "{reason}");
    assert!(set_cookie(res.headers()).is_none(), "no session: {reason}");
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "csrf"}));
    assert_eq!(demo.refusals().await, [reason]);
}

async fn assert_passed(demo: &Demo, req: RequestBuilder, why: &str) {
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{why}");
    assert!(set_cookie(res.headers()).is_some(), "signed in: {why}");
    assert!(demo.refusals().await.is_empty(), "{why}");
}

#[tokio::test]
async fn safe_methods_always_pass() {
    let demo = Demo::start().await;
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        let res = demo
            .server
            .client
            .request(method.clone(), format!("{}/healthz", demo.server.base))
            .header("sec-fetch-site", "cross-site")
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 403, "{method}");
    }
    assert!(demo.refusals().await.is_empty());
}

#[tokio::test]
async fn fetch_metadata_same_origin_or_none_passes_and_anything_else_is_refused() {
    let demo = Demo::start().await;
    for site in ["same-origin", "none"] {
        let req = demo.login(Method::POST).header("sec-fetch-site", site);
        assert_passed(&demo, req, site).await;
    }
    for site in ["cross-site", "same-site"] {
        let req = demo.login(Method::POST).header("sec-fetch-site", site);
        assert_refused(&demo, req, "cross_site").await;
    }
    // A cross-site request whose Origin the app trusts passes.
    let req = demo
        .login(Method::POST)
        .header("sec-fetch-site", "cross-site")
        .header("origin", TRUSTED);
    assert_passed(&demo, req, "trusted origin").await;
}

#[tokio::test]
async fn without_fetch_metadata_the_origin_must_be_the_requests_own_or_trusted() {
    let demo = Demo::start().await;
    let own = demo.origin();
    assert_passed(
        &demo,
        demo.login(Method::POST).header("origin", &own),
        "own",
    )
    .await;
    assert_passed(
        &demo,
        demo.login(Method::POST).header("origin", TRUSTED),
        "trusted",
    )
    .await;
    let other_port = own
        .rsplit_once(':')
        .map(|(host, _)| format!("{host}:1"))
        .unwrap();
    for origin in ["https://evil.example", "null", other_port.as_str()] {
        let req = demo.login(Method::POST).header("origin", origin);
        assert_refused(&demo, req, "origin_mismatch").await;
    }
}

#[tokio::test]
async fn a_request_with_neither_header_passes() {
    let demo = Demo::start().await;
    assert_passed(&demo, demo.login(Method::POST), "a non-browser client").await;
}

#[tokio::test]
async fn bearer_requests_are_exempt_cookie_ones_are_not() {
    let demo = Demo::start().await;
    let res = demo
        .login(Method::POST)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    let token = set_cookie(res.headers()).unwrap();
    let logout = |bearer: bool| {
        let req = demo
            .server
            .post("/logout")
            .header("sec-fetch-site", "cross-site")
            .header("origin", "https://evil.example");
        if bearer {
            req.bearer_auth(&token)
        } else {
            req.session(&token)
        }
    };
    // The forged logout through the cookie is refused, and the session lives on.
    let res = logout(false).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(demo.refusals().await, ["cross_site"]);
    let me = demo
        .server
        .get("/api/me")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // A bearer client is no browser form: its logout goes through.
    let res = logout(true).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(demo.refusals().await.is_empty());
}

#[tokio::test]
async fn login_csrf_and_anonymous_sessions_are_covered() {
    let demo = Demo::start().await;
    // A forged login (signing the victim in as the attacker) starts no session.
    let req = demo
        .login(Method::POST)
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example");
    assert_refused(&demo, req, "cross_site").await;
    // A forged form post of preferences starts no anonymous session either.
    let req = demo
        .server
        .put("/api/prefs")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"theme": "evil"}));
    assert_refused(&demo, req, "cross_site").await;
    // The audit event says who tried: the peer's address and user agent.
    let res = demo
        .login(Method::POST)
        .header("sec-fetch-site", "cross-site")
        .header("user-agent", "forger/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        header(res.headers(), "content-type").as_deref(),
        Some("application/json")
    );
    let events = demo.recorder.take(&demo.audit).await;
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e.event == AuditKind::CsrfRejected)
        .collect();
    assert_eq!(refused.len(), 1, "{events:?}");
    assert_eq!(refused[0].user_agent.as_deref(), Some("forger/1.0"));
    assert!(refused[0].ip.is_some_and(|ip| ip.is_loopback()));
    assert!(
        events.iter().all(|e| e.event != AuditKind::Login),
        "no login happened: {events:?}"
    );
}
