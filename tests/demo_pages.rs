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

/// The masked CSRF tokens of the revoke buttons on a home page.
fn page_tokens(html: &str) -> Vec<String> {
    html.split(r#"name="csrf_token" value=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn revoke_buttons_carry_a_csrf_token_checked_for_browsers_without_fetch_metadata() {
    let server = server().await;
    let (laptop, _) = server
        .demo_login_from("alice", "wonderland", "laptop")
        .await;
    let (_, phone_id) = server.demo_login_from("alice", "wonderland", "phone").await;
    let home = |token: &str| {
        let req = server.get("/").session(token);
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let first = home(&laptop).await;
    let tokens = page_tokens(&first);
    assert_eq!(tokens.len(), 1, "one revoke button, for the phone: {first}");
    assert_ne!(
        page_tokens(&home(&laptop).await),
        tokens,
        "masked anew per render"
    );
    let revoke = |token: Option<&str>, site: Option<&str>| {
        let mut req = server
            .post(&format!("/sessions/{phone_id}/revoke"))
            .session(&laptop);
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        let form: Vec<(&str, String)> = token
            .map(|t| vec![("csrf_token", t.to_owned())])
            .unwrap_or_default();
        let req = req.form(&form);
        async move { req.send().await.unwrap() }
    };
    // A browser without Fetch Metadata and no token, or a token of another session: refused.
    let (bob, _) = server
        .demo_login_from("bob", "builder", "bob's laptop")
        .await;
    server
        .demo_login_from("bob", "builder", "bob's phone")
        .await;
    let bobs = page_tokens(&home(&bob).await);
    assert_eq!(bobs.len(), 1);
    for token in [None, Some("forged"), Some(bobs[0].as_str())] {
        assert_eq!(revoke(token, None).await.status(), 403, "{token:?}");
    }
    assert!(
        home(&laptop).await.contains(&phone_id),
        "the phone is still listed"
    );
    // The page's token works; so does a browser that vouches with Fetch Metadata.
    assert_eq!(revoke(Some(&tokens[0]), None).await.status(), 303);
    assert!(
        !home(&laptop).await.contains(&phone_id),
        "the phone was revoked"
    );
    let (_, tablet_id) = server
        .demo_login_from("alice", "wonderland", "tablet")
        .await;
    let res = server
        .post(&format!("/sessions/{tablet_id}/revoke"))
        .session(&laptop)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(!home(&laptop).await.contains(&tablet_id));
}
