//! Who may use the demo's admin routes (docs/demo-http.md, "Admin API"): every one answers 401
//! to an anonymous caller and 403 to a signed-in non-admin, over real HTTP on loopback; and a
//! route that changes something refuses what a page of another site could send.

mod common;

mod admin_support;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use admin_support::{demo_server, error_of, login, request, session_id, signed_in, ROUTES};
use common::{header, WithSession};
use serde_json::json;
use sessionward::store::MemoryStore;

#[tokio::test]
async fn anonymous_callers_get_401_and_non_admins_403_on_every_route() {
    let server = demo_server(MemoryStore::default(), None).await;
    let bob = login(&server, "bob").await;
    let id = session_id(&server, &bob).await;
    let alice = login(&server, "alice").await;
    admin_support::outsiders_are_refused_everywhere(&server, &id, &alice).await;
    // Nothing a refused caller sent ended a session.
    assert!(signed_in(&server, &bob).await);
}

#[tokio::test]
async fn the_admin_is_let_in_on_every_route() {
    let server = demo_server(MemoryStore::default(), None).await;
    let admin = login(&server, "admin").await;
    for (method, path) in ROUTES {
        // A fresh session of bob's for each route that ends one.
        let bob = login(&server, "bob").await;
        let path = path.replace("{id}", &session_id(&server, &bob).await);
        let res = request(&server, method, &path)
            .session(&admin)
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success(),
            "{method} {path}: {}",
            res.status()
        );
        assert_eq!(
            header(res.headers(), "cache-control").as_deref(),
            Some("no-store"),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_bearer_token_works_as_the_cookie_does() {
    let server = demo_server(MemoryStore::default(), None).await;
    let admin = login(&server, "admin").await;
    let alice = login(&server, "alice").await;
    let res = server
        .get("/admin/stats")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = server
        .get("/admin/stats")
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn changes_need_a_json_body_and_refuse_cross_site_requests() {
    let server = demo_server(MemoryStore::default(), None).await;
    let admin = login(&server, "admin").await;
    let bob = login(&server, "bob").await;
    let id = session_id(&server, &bob).await;
    for path in [
        format!("/admin/sessions/{id}/revoke"),
        "/admin/users/bob/revoke".to_owned(),
        "/admin/users/bob/keep".to_owned(),
    ] {
        // What an HTML form on any site can send: no JSON.
        for (content_type, body) in [
            ("application/x-www-form-urlencoded", "session_id=x"),
            ("text/plain", "{}"),
            ("multipart/form-data; boundary=x", "--x--"),
        ] {
            let res = server
                .post(&path)
                .session(&admin)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 415, "{path} {content_type}");
            assert_eq!(error_of(res).await, "json_required");
        }
        let res = server.post(&path).session(&admin).send().await.unwrap();
        assert_eq!(res.status(), 415, "{path} without a body");
        // A browser names a request from another site, whatever it carries.
        for site in ["cross-site", "same-site"] {
            let res = server
                .post(&path)
                .session(&admin)
                .header("sec-fetch-site", site)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403, "{path} {site}");
            assert_eq!(error_of(res).await, "cross_origin");
        }
        // An older browser without Sec-Fetch-Site still names another site's page in Origin.
        let res = server
            .post(&path)
            .session(&admin)
            .header("origin", "https://evil.example")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path} foreign origin");
        assert_eq!(error_of(res).await, "cross_origin");
    }
    assert!(signed_in(&server, &bob).await, "nothing was revoked");
    // The dashboard's own requests come from the same origin.
    let res = server
        .post("/admin/users/bob/revoke")
        .session(&admin)
        .header("sec-fetch-site", "same-origin")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(!signed_in(&server, &bob).await);
}

#[tokio::test]
async fn other_methods_and_unknown_paths_answer_json() {
    let server = demo_server(MemoryStore::default(), None).await;
    let admin = login(&server, "admin").await;
    let res = server
        .delete("/admin/sessions")
        .session(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(error_of(res).await, "method_not_allowed");
    let res = server
        .get("/admin/users/bob/revoke")
        .session(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(error_of(res).await, "method_not_allowed");
    let res = server
        .get("/admin/nothing-here")
        .session(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error_of(res).await, "not_found");
}
