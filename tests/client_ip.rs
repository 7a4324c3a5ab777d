//! The client IP recorded with a session, over real HTTP on loopback: the socket peer, unless
//! the layer trusts the peer as a proxy; then the nearest untrusted hop of `Forwarded` or
//! `X-Forwarded-For`.

mod common;

use axum::routing::post;
use axum::Router;
use common::{serve, Server};
use sessionward::store::MemoryStore;
use sessionward::{Session, SessionError, SessionLayer, TrustedProxies};

/// Creates a session and answers the IP recorded with it, and the one `client_ip` reports.
async fn start(session: Session) -> Result<String, SessionError> {
    session.insert("seen", &true).await?;
    let recorded = session.record().await?.and_then(|r| r.ip);
    Ok(format!(
        "{} {}",
        recorded.map_or("none".to_owned(), |ip| ip.to_string()),
        session
            .client_ip()
            .map_or("none".to_owned(), |ip| ip.to_string())
    ))
}

async fn server(layer: SessionLayer<MemoryStore>) -> Server {
    serve(Router::new().route("/start", post(start)).layer(layer)).await
}

async fn recorded(server: &Server, headers: &[(&str, &str)]) -> String {
    let mut req = server.post("/start");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

#[tokio::test]
async fn without_trusted_proxies_forwarding_headers_are_ignored() {
    let server = server(SessionLayer::new(MemoryStore::default())).await;
    assert_eq!(recorded(&server, &[]).await, "127.0.0.1 127.0.0.1");
    let spoofed = [
        ("x-forwarded-for", "198.51.100.7"),
        ("forwarded", "for=203.0.113.9"),
    ];
    assert_eq!(recorded(&server, &spoofed).await, "127.0.0.1 127.0.0.1");
}

#[tokio::test]
async fn a_peer_that_is_not_trusted_cannot_spoof_its_address() {
    let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
    let server = server(SessionLayer::new(MemoryStore::default()).trusted_proxies(proxies)).await;
    let spoofed = [("x-forwarded-for", "198.51.100.7")];
    assert_eq!(recorded(&server, &spoofed).await, "127.0.0.1 127.0.0.1");
}

#[tokio::test]
async fn behind_trusted_proxies_the_nearest_untrusted_hop_is_recorded() {
    let proxies: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
    let server = server(SessionLayer::new(MemoryStore::default()).trusted_proxies(proxies)).await;
    // The client wrote 6.6.6.6 itself; the outer proxy appended its peer, 198.51.100.7.
    let chain = [("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3")];
    assert_eq!(recorded(&server, &chain).await, "198.51.100.7 198.51.100.7");
    let forwarded = [(
        "forwarded",
        r#"for=6.6.6.6, for="[2001:db8::17]:4711";proto=https"#,
    )];
    assert_eq!(
        recorded(&server, &forwarded).await,
        "2001:db8::17 2001:db8::17"
    );
    // No forwarding header: the trusted peer itself.
    assert_eq!(recorded(&server, &[]).await, "127.0.0.1 127.0.0.1");
    // A hidden hop stops the walk at the last trusted proxy.
    let hidden = [("forwarded", "for=6.6.6.6, for=_hidden, for=10.0.0.9")];
    assert_eq!(recorded(&server, &hidden).await, "10.0.0.9 10.0.0.9");
}
