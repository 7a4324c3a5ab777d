//! The demo's HTML pages as a browser gets them, over real HTTP on loopback: a strict
//! Content-Security-Policy whose hash matches the one inline style, `nosniff` and
//! `Referrer-Policy`, and whatever a client sent (a user agent, a user name) shown as text.

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;

use common::{header, serve, Server, WithSession};
use sessionward::store::MemoryStore;

async fn server() -> Server {
    serve(demo::app().layer(demo::session_layer(MemoryStore::default()))).await
}

#[tokio::test]
async fn pages_send_a_strict_policy_and_show_a_hostile_user_agent_as_text() {
    let server = server().await;
    let agent = r#"<script>alert("owned")</script><img src=x onerror=alert(1)>"#;
    let (token, _) = server.demo_login_from("alice", "wonderland", agent).await;
    let mut pages = Vec::new();
    // The signed-in home page, and a failed form login's page.
    pages.push(server.get("/").session(&token).send().await.unwrap());
    pages.push(
        server
            .post("/login")
            .form(&[("username", "<b>x</b>"), ("password", "no")])
            .send()
            .await
            .unwrap(),
    );
    for res in pages {
        let policy = header(res.headers(), "content-security-policy").expect("a policy");
        for directive in [
            "default-src 'none'",
            "style-src 'sha256-",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(policy.contains(directive), "{policy}");
        }
        assert!(
            !policy.contains("script-src"),
            "no script allowed: {policy}"
        );
        assert_eq!(
            header(res.headers(), "x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(
            header(res.headers(), "referrer-policy").as_deref(),
            Some("no-referrer")
        );
        let html = res.text().await.unwrap();
        // The policy's hash is the inline style's, so browsers apply that style and no other.
        let style = html
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map(|(style, _)| style)
            .expect("an inline style");
        let hash = {
            use base64::Engine as _;
            use sha2::Digest as _;
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style))
        };
        assert!(
            policy.contains(&format!("style-src 'sha256-{hash}'")),
            "{policy}"
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>x"), "{html}");
    }
    // The user agent is on the page, as text.
    let html = server
        .get("/")
        .session(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(
            "&lt;script&gt;alert(\"owned\")&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
        ),
        "{html}"
    );
}
