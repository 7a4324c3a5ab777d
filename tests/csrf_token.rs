//! The CSRF token fallback (`sessionward::csrf::{CsrfToken, CsrfTokenLayer}`) over real HTTP on
//! loopback: masked tokens that differ on every render and all work, the form field and the
//! `X-CSRF-Token` header, a token of another session or from before a login refused, the
//! exemptions (safe methods, bearer tokens, Fetch Metadata when trusted), the form body handed
//! on intact, bad input refused without a 500, and a store failure during the check.

mod common;

use axum::routing::{get, post};
use axum::Router;
use common::audit::Recorder;
use common::{serve, set_cookie, FlakyStore, Server, WithSession};
use serde_json::{json, Value};
use sessionward::audit::{AuditHandle, AuditKind};
use sessionward::csrf::{verify_token, CsrfToken, CsrfTokenLayer};
use sessionward::store::MemoryStore;
use sessionward::{Session, SessionLayer};

struct App {
    server: Server,
    recorder: Recorder,
    audit: AuditHandle,
    store: FlakyStore,
}

/// Routes: `GET /form` renders a token; `POST /submit` (checked) echoes its body;
/// `POST /login` (unchecked) signs alice in; `POST /manual` (unchecked) checks the body with
/// `verify_token`.
async fn app(layer: CsrfTokenLayer) -> App {
    let recorder = Recorder::default();
    let audit = AuditHandle::new(recorder.clone());
    let store = FlakyStore::wrap(MemoryStore::default());
    let checked = Router::new()
        .route("/submit", post(|body: String| async move { body }))
        .layer(layer);
    let routes = Router::new()
        .route(
            "/form",
            get(|token: CsrfToken| async move { token.to_string() }),
        )
        .route(
            "/login",
            post(|session: Session| async move {
                session.login("alice").await.unwrap();
                "signed in"
            }),
        )
        .route(
            "/manual",
            post(|session: Session, body: String| async move {
                verify_token(&session, &body).await.unwrap().to_string()
            }),
        )
        .merge(checked)
        .layer(SessionLayer::new(store.clone()).audit_through(audit.clone()));
    App {
        server: serve(routes).await,
        recorder,
        audit,
        store,
    }
}

impl App {
    /// A fresh anonymous session (started by rendering the form) and its first token.
    async fn visit(&self) -> (String, String) {
        let res = self.server.get("/form").send().await.unwrap();
        assert_eq!(res.status(), 200);
        let cookie = set_cookie(res.headers()).expect("rendering a token starts a session");
        (cookie, res.text().await.unwrap())
    }

    async fn token(&self, cookie: &str) -> String {
        let res = self
            .server
            .get("/form")
            .session(cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }

    /// Posts `note` with `token` (if any) in the form body.
    async fn submit_form(&self, cookie: &str, token: Option<&str>) -> reqwest::Response {
        let mut fields = vec![("note", "hello & good-bye")];
        if let Some(token) = token {
            fields.push(("csrf_token", token));
        }
        let req = self.server.post("/submit").session(cookie).form(&fields);
        req.send().await.unwrap()
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

async fn assert_refused(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 403, "{what}");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "csrf"}),
        "{what}"
    );
}

#[tokio::test]
async fn every_render_differs_and_every_one_is_accepted_in_the_form_or_the_header() {
    let app = app(CsrfTokenLayer::new()).await;
    let (cookie, first) = app.visit().await;
    let second = app.token(&cookie).await;
    assert_ne!(first, second, "a fresh mask on every render");
    assert_eq!(first.len(), 86);
    for token in [&first, &second] {
        let res = app.submit_form(&cookie, Some(token)).await;
        assert_eq!(res.status(), 200);
        let echoed = res.text().await.unwrap();
        assert!(
            echoed.starts_with("note=hello+%26+good-bye&csrf_token="),
            "the handler reads the whole form: {echoed}"
        );
    }
    // The header, with a body the layer does not parse.
    let res = app
        .server
        .post("/submit")
        .session(&cookie)
        .header("x-csrf-token", &first)
        .json(&json!({"note": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), r#"{"note":1}"#);
    assert!(app.refusals().await.is_empty());
}

#[tokio::test]
async fn a_missing_or_foreign_token_is_refused_and_audited() {
    let app = app(CsrfTokenLayer::new()).await;
    let (cookie, _) = app.visit().await;
    let (_, foreign) = app.visit().await;
    assert_refused(app.submit_form(&cookie, None).await, "no token").await;
    assert_refused(
        app.submit_form(&cookie, Some(&foreign)).await,
        "other session's",
    )
    .await;
    let json_without_header = app
        .server
        .post("/submit")
        .session(&cookie)
        .json(&json!({"csrf_token": foreign}))
        .send()
        .await
        .unwrap();
    assert_refused(json_without_header, "JSON needs the header").await;
    // No session at all: the token of a session the request does not carry is no token.
    let res = app
        .server
        .post("/submit")
        .header("x-csrf-token", &foreign)
        .send()
        .await
        .unwrap();
    assert_refused(res, "no session").await;
    assert_eq!(
        app.refusals().await,
        [
            "token_missing",
            "token_mismatch",
            "token_missing",
            "no_session"
        ]
    );
}

#[tokio::test]
async fn a_login_changes_the_secret_so_a_page_from_before_it_is_refused() {
    let app = app(CsrfTokenLayer::new()).await;
    let (anonymous, before) = app.visit().await;
    let res = app
        .server
        .post("/login")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    let signed_in = set_cookie(res.headers()).expect("login rotates the token");
    assert_refused(
        app.submit_form(&signed_in, Some(&before)).await,
        "token from before the login",
    )
    .await;
    let after = app.token(&signed_in).await;
    assert_eq!(
        app.submit_form(&signed_in, Some(&after)).await.status(),
        200
    );
    assert_eq!(app.refusals().await, ["token_mismatch"]);
}

#[tokio::test]
async fn safe_methods_bearer_requests_and_trusted_fetch_metadata_need_no_token() {
    let strict = app(CsrfTokenLayer::new()).await;
    let (cookie, _) = strict.visit().await;
    // A bearer request: the session's own token as `Authorization: Bearer`, no CSRF token.
    let res = strict
        .server
        .post("/submit")
        .bearer_auth(&cookie)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "bearer requests are exempt");
    // Without trust, Fetch Metadata changes nothing.
    let res = strict
        .server
        .post("/submit")
        .session(&cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_refused(res, "strict: same-origin still needs a token").await;

    let fallback = app(CsrfTokenLayer::new().trust_fetch_metadata()).await;
    let (cookie, _) = fallback.visit().await;
    for site in ["same-origin", "none"] {
        let res = fallback
            .server
            .post("/submit")
            .session(&cookie)
            .header("sec-fetch-site", site)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{site}: the browser vouches");
    }
    for site in ["cross-site", "same-site"] {
        let res = fallback
            .server
            .post("/submit")
            .session(&cookie)
            .header("sec-fetch-site", site)
            .send()
            .await
            .unwrap();
        assert_refused(res, site).await;
    }
    assert_eq!(
        fallback
            .server
            .get("/submit")
            .send()
            .await
            .unwrap()
            .status(),
        405,
        "a safe method passes the layer to the router"
    );
}

#[tokio::test]
async fn bad_tokens_and_oversized_forms_are_refused_without_a_server_error() {
    let app = app(CsrfTokenLayer::new().max_form_bytes(1024)).await;
    let (cookie, token) = app.visit().await;
    let mut flipped = token.clone().into_bytes();
    flipped[40] = if flipped[40] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let junk = [
        "",
        "x",
        &token[1..],
        &format!("{token}A"),
        &"!".repeat(86),
        &flipped,
        "%00%ff",
    ];
    for bad in junk {
        assert_refused(app.submit_form(&cookie, Some(bad)).await, bad).await;
    }
    let res = app
        .server
        .post("/submit")
        .session(&cookie)
        .header("x-csrf-token", &[0xffu8, 0xfe][..])
        .send()
        .await
        .unwrap();
    assert_refused(res, "a header that is no text").await;
    let big = "a".repeat(2000);
    let res = app
        .server
        .post("/submit")
        .session(&cookie)
        .form(&[("csrf_token", token.as_str()), ("note", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "payload_too_large"})
    );
    // The genuine token still works after all that.
    assert_eq!(app.submit_form(&cookie, Some(&token)).await.status(), 200);
}

#[tokio::test]
async fn a_store_failure_during_the_check_reaches_no_handler() {
    let app = app(CsrfTokenLayer::new()).await;
    let (cookie, token) = app.visit().await;
    app.store.set_down(true);
    let res = app.submit_form(&cookie, Some(&token)).await;
    assert!(res.status().is_server_error(), "{}", res.status());
    let body = res.text().await.unwrap();
    assert!(!body.contains("hello"), "the handler never ran: {body}");
    app.store.set_down(false);
    assert_eq!(app.submit_form(&cookie, Some(&token)).await.status(), 200);
}

#[tokio::test]
async fn a_handler_can_check_a_token_itself() {
    let app = app(CsrfTokenLayer::new()).await;
    let (cookie, token) = app.visit().await;
    let (_, foreign) = app.visit().await;
    let check = |body: String| {
        let req = app.server.post("/manual").session(&cookie).body(body);
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(check(token).await, "true");
    assert_eq!(check(foreign).await, "false");
    assert_eq!(check("junk".to_owned()).await, "false");
}
