//! The bearer client layer over real HTTP: hyper-util's client against a token server on
//! loopback, signing requests and refreshing tokens.

mod client_support;

use std::sync::Arc;
use std::time::Duration;

use client_support::{http, serial_of, Http, TokenServer};
use sessionward::client::{
    BearerLayer, BearerService, ClientError, ClientSession, RefreshMargin, TokenPair,
};
use tokio::sync::Barrier;
use tower::{Layer, Service, ServiceExt};

/// A session signed in as alice on `server`, and the layer around hyper's client.
async fn signed_in(server: &TokenServer) -> (Arc<ClientSession>, BearerService<Http>) {
    signed_in_with(server, ClientSession::new()).await
}

async fn signed_in_with(
    server: &TokenServer,
    session: ClientSession,
) -> (Arc<ClientSession>, BearerService<Http>) {
    let session = Arc::new(session);
    session
        .login(
            &mut http(),
            &server.uri("/api/token"),
            "alice",
            "wonderland",
        )
        .await
        .unwrap();
    let layer = BearerLayer::new(server.uri("/api/token/refresh"), session.clone());
    (session, layer.layer(http()))
}

#[tokio::test]
async fn adds_the_bearer_token_and_does_not_refresh_a_fresh_one() {
    let server = TokenServer::start(600).await;
    let (_, mut api) = signed_in(&server).await;
    for _ in 0..2 {
        let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
        assert_eq!(serial_of(response.unwrap()).await, 1, "the login's token");
    }
    assert_eq!(server.refresh_calls(), 0);
}

#[tokio::test]
async fn refreshes_a_token_within_the_margin_of_its_expiry_before_sending() {
    // 20 seconds left, inside the default 30-second margin.
    let server = TokenServer::start(20).await;
    let (session, mut api) = signed_in(&server).await;
    server.set_access_ttl(600);
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert_eq!(
        serial_of(response.unwrap()).await,
        2,
        "sent with the refreshed token"
    );
    assert_eq!((server.refresh_calls(), server.api_calls()), (1, 1));
    assert_eq!(session.tokens().unwrap().refresh_token(), "refresh-2");

    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert_eq!(serial_of(response.unwrap()).await, 2);
    assert_eq!(server.refresh_calls(), 1, "the new token is fresh");
}

#[tokio::test]
async fn a_shorter_margin_keeps_the_token_longer() {
    let server = TokenServer::start(20).await;
    let margin = RefreshMargin::Before(Duration::from_secs(5));
    let (_, mut api) = signed_in_with(&server, ClientSession::new().refresh_margin(margin)).await;
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert_eq!(serial_of(response.unwrap()).await, 1);
    assert_eq!(server.refresh_calls(), 0);
}

#[tokio::test]
async fn a_margin_can_be_a_fraction_of_the_lifetime() {
    let server = TokenServer::start(600).await;
    let half = ClientSession::new().refresh_margin(RefreshMargin::Fraction(0.5));
    let (_, mut api) = signed_in_with(&server, half).await;
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert_eq!(
        serial_of(response.unwrap()).await,
        1,
        "half of ten minutes is left"
    );

    // The whole lifetime as the margin: due as soon as it arrives.
    let whole = ClientSession::new().refresh_margin(RefreshMargin::Fraction(1.0));
    let (_, mut api) = signed_in_with(&server, whole).await;
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert_eq!(
        serial_of(response.unwrap()).await,
        3,
        "the login's pair 2, refreshed"
    );
    assert_eq!(server.refresh_calls(), 1);
}

#[tokio::test]
async fn a_401_refreshes_once_and_sends_the_request_once_more() {
    let server = TokenServer::start(600).await;
    let (_, mut api) = signed_in(&server).await;
    server.reject_access_tokens();
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert_eq!(
        serial_of(response.unwrap()).await,
        2,
        "retried with the new token"
    );
    assert_eq!((server.refresh_calls(), server.api_calls()), (1, 2));
}

#[tokio::test]
async fn a_401_after_the_refresh_is_returned_not_retried_again() {
    let server = TokenServer::start(600).await;
    let (_, mut api) = signed_in(&server).await;
    let request = server.get("/api/always-401");
    let response = api.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!((server.refresh_calls(), server.api_calls()), (1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_requests_share_one_refresh() {
    const REQUESTS: usize = 32;
    let server = Arc::new(TokenServer::start(20).await);
    let (_, api) = signed_in(&server).await;
    server.set_access_ttl(600);
    let barrier = Arc::new(Barrier::new(REQUESTS));
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let (mut api, barrier, server) = (api.clone(), barrier.clone(), server.clone());
            tokio::spawn(async move {
                let request = server.get("/api/me");
                barrier.wait().await;
                let response = api.ready().await.unwrap().call(request).await;
                serial_of(response.unwrap()).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(
            task.await.unwrap(),
            2,
            "every request used the one refreshed token"
        );
    }
    assert_eq!(server.refresh_calls(), 1);
    assert_eq!(server.api_calls(), REQUESTS);
}

#[tokio::test]
async fn a_refresh_waits_without_holding_the_inner_services_readiness() {
    // One request at a time: the refresh needs the slot the waiting request was readied with.
    let server = TokenServer::start(20).await;
    let session = Arc::new(ClientSession::new());
    session
        .login(
            &mut http(),
            &server.uri("/api/token"),
            "alice",
            "wonderland",
        )
        .await
        .unwrap();
    let limited = client_support::OneAtATime::new(http());
    let mut api = BearerLayer::new(server.uri("/api/token/refresh"), session).layer(limited);
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert_eq!(serial_of(response.unwrap()).await, 2);
    assert_eq!(server.refresh_calls(), 1);
}

#[tokio::test]
async fn signing_out_during_a_refresh_wins_over_its_answer() {
    let server = TokenServer::start(20).await;
    let (session, api) = signed_in(&server).await;
    let gate = server.gate_refreshes();
    let request = tokio::spawn({
        let (mut api, request) = (api.clone(), server.get("/api/me"));
        async move { api.ready().await.unwrap().call(request).await.map(|_| ()) }
    });
    gate.arrived.notified().await;
    session.sign_out();
    gate.release.notify_one();
    let outcome = request.await.unwrap();
    assert!(
        matches!(outcome, Err(ClientError::NotLoggedIn)),
        "{outcome:?}"
    );
    assert!(session.tokens().is_none(), "still signed out");
    assert_eq!(server.api_calls(), 0);
}

#[test]
fn the_service_can_be_shared_between_tasks() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<BearerService<Http>>();
    shareable::<Arc<ClientSession>>();
}

#[tokio::test]
async fn a_refused_refresh_is_session_expired_and_nothing_is_retried() {
    let server = TokenServer::start(600).await;
    let (session, mut api) = signed_in(&server).await;
    // Someone else spends the refresh token first: the server then revokes the session.
    let stolen = session.tokens().unwrap().refresh_token().to_owned();
    let mut other = BearerLayer::new(
        server.uri("/api/token/refresh"),
        Arc::new(ClientSession::with_tokens(
            TokenPair::new("opaque", stolen, None).unwrap(),
        )),
    )
    .layer(http());
    server.reject_access_tokens();
    let response = other
        .ready()
        .await
        .unwrap()
        .call(server.get("/api/me"))
        .await;
    assert_eq!(serial_of(response.unwrap()).await, 2);
    let (refreshes, api_calls) = (server.refresh_calls(), server.api_calls());

    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert!(
        matches!(response, Err(ClientError::SessionExpired)),
        "{response:?}"
    );
    assert_eq!(
        server.refresh_calls(),
        refreshes + 1,
        "one refresh, refused"
    );
    assert_eq!(
        server.api_calls(),
        api_calls + 1,
        "the 401'd request, not retried"
    );
    assert!(session.tokens().is_none(), "the tokens are forgotten");

    // Later requests fail the same way without asking the server.
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert!(matches!(response, Err(ClientError::SessionExpired)));
    assert_eq!(server.refresh_calls(), refreshes + 1);
    assert_eq!(server.api_calls(), api_calls + 1);
}

#[tokio::test]
async fn a_refused_refresh_before_expiry_sends_nothing() {
    let server = TokenServer::start(20).await;
    let (session, mut api) = signed_in(&server).await;
    session.set_tokens(
        TokenPair::new(session.tokens().unwrap().access_token(), "forged", None).unwrap(),
    );
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert!(
        matches!(response, Err(ClientError::SessionExpired)),
        "{response:?}"
    );
    assert_eq!((server.refresh_calls(), server.api_calls()), (1, 0));
}

#[tokio::test]
async fn signing_in_again_after_an_expired_session_works() {
    let server = TokenServer::start(600).await;
    let (session, mut api) = signed_in(&server).await;
    session.set_tokens(TokenPair::new("opaque", "forged", None).unwrap());
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert!(matches!(response, Err(ClientError::SessionExpired)));
    session
        .login(
            &mut http(),
            &server.uri("/api/token"),
            "alice",
            "wonderland",
        )
        .await
        .unwrap();
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert_eq!(serial_of(response.unwrap()).await, 2);
}

#[tokio::test]
async fn without_tokens_requests_fail_as_not_logged_in_and_send_nothing() {
    let server = TokenServer::start(600).await;
    let session = Arc::new(ClientSession::new());
    let mut api = BearerLayer::new(server.uri("/api/token/refresh"), session.clone()).layer(http());
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert!(
        matches!(response, Err(ClientError::NotLoggedIn)),
        "{response:?}"
    );

    session.set_tokens(TokenPair::new("opaque", "refresh", None).unwrap());
    session.sign_out();
    let response = api.ready().await.unwrap().call(server.get("/api/me")).await;
    assert!(matches!(response, Err(ClientError::NotLoggedIn)));
    assert_eq!((server.refresh_calls(), server.api_calls()), (0, 0));
}

#[tokio::test]
async fn a_server_that_is_gone_is_a_transport_error() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let uri = |path: &str| -> http::Uri { format!("{base}{path}").parse().unwrap() };
    let get = |path: &str| {
        http::Request::get(uri(path))
            .body(Default::default())
            .unwrap()
    };

    // Sending the request.
    let session = Arc::new(ClientSession::with_tokens(
        TokenPair::new("opaque", "refresh", None).unwrap(),
    ));
    let mut api = BearerLayer::new(uri("/api/token/refresh"), session.clone()).layer(http());
    let response = api.ready().await.unwrap().call(get("/api/me")).await;
    assert!(
        matches!(response, Err(ClientError::Transport(_))),
        "{response:?}"
    );

    // Refreshing an expired token: the tokens are kept for when the server is back.
    let expired = TokenPair::new("opaque", "refresh", Some(Duration::ZERO)).unwrap();
    session.set_tokens(expired);
    let response = api.ready().await.unwrap().call(get("/api/me")).await;
    assert!(
        matches!(response, Err(ClientError::Transport(_))),
        "{response:?}"
    );
    assert_eq!(session.tokens().unwrap().refresh_token(), "refresh");
}
