//! The client's login helper over real HTTP, and how a token pair finds its expiry.

mod client_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use client_support::{http, TokenServer};
use sessionward::client::{login, ClientError, ClientSession, TokenPair, TokenResponseError};

fn jwt(payload: &str) -> String {
    format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload))
}

#[tokio::test]
async fn login_obtains_the_first_pair() {
    let server = TokenServer::start(600).await;
    let before = SystemTime::now();
    let pair = login(
        &mut http(),
        &server.uri("/api/token"),
        "alice",
        "wonderland",
    )
    .await
    .unwrap();
    assert_eq!(pair.refresh_token(), "refresh-1");
    assert_eq!(
        pair.access_token().split('.').count(),
        3,
        "the server's JWT"
    );
    // Read from the token's whole-second `exp`: ten minutes after the answer, give or take it.
    let expires_at = pair.expires_at().unwrap();
    assert!(
        expires_at > before + Duration::from_secs(598),
        "{expires_at:?}"
    );
    assert!(expires_at <= SystemTime::now() + Duration::from_secs(600));
}

#[tokio::test]
async fn wrong_credentials_are_a_typed_error_and_leave_the_session_signed_out() {
    let server = TokenServer::start(600).await;
    let token = server.uri("/api/token");
    let wrong = login(&mut http(), &token, "alice", "guess").await;
    assert!(
        matches!(wrong, Err(ClientError::InvalidCredentials)),
        "{wrong:?}"
    );

    let session = ClientSession::new();
    let wrong = session
        .login(&mut http(), &token, "mallory", "wonderland")
        .await;
    assert!(matches!(wrong, Err(ClientError::InvalidCredentials)));
    assert!(session.tokens().is_none());
    assert_eq!(server.latest_serial(), 0, "no pair was issued");
}

#[tokio::test]
async fn a_token_endpoint_that_is_not_one_is_a_typed_error() {
    let server = TokenServer::start(600).await;
    // No token endpoint at this path: 404 is neither a pair nor a refusal of the password.
    let answer = login(
        &mut http(),
        &server.uri("/api/nothing"),
        "alice",
        "wonderland",
    )
    .await;
    assert!(
        matches!(answer, Err(ClientError::TokenResponse(TokenResponseError::Status(s))) if s == 404),
        "{answer:?}"
    );
    let answer = login(
        &mut http(),
        &server.uri("/api/not-json"),
        "alice",
        "wonderland",
    )
    .await;
    assert!(
        matches!(
            answer,
            Err(ClientError::TokenResponse(TokenResponseError::Json(_)))
        ),
        "{answer:?}"
    );
    let answer = login(&mut http(), &server.uri("/api/huge"), "alice", "wonderland").await;
    assert!(
        matches!(
            answer,
            Err(ClientError::TokenResponse(TokenResponseError::Body(_)))
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn login_to_a_server_that_is_gone_is_a_transport_error() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/api/token", closed.local_addr().unwrap());
    drop(closed);
    let answer = login(&mut http(), &uri.parse().unwrap(), "alice", "wonderland").await;
    assert!(
        matches!(answer, Err(ClientError::Transport(_))),
        "{answer:?}"
    );
}

#[test]
fn the_expiry_is_the_jwt_exp_else_expires_in() {
    let in_a_minute = Some(Duration::from_secs(60));
    let pair = TokenPair::new(jwt(r#"{"exp":2000000000}"#), "r", in_a_minute).unwrap();
    let exp = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    assert_eq!(pair.expires_at(), Some(exp), "exp wins over expires_in");

    let before = SystemTime::now();
    for not_jwt in [
        "opaque".to_owned(),
        jwt(r#"{"sub":"no exp"}"#),
        jwt(r#"{"exp":"soon"}"#),
        jwt(r#"{"exp":-5}"#),
        "a.!!!.c".to_owned(),
        "a.b.c.d".to_owned(),
    ] {
        let pair = TokenPair::new(not_jwt.as_str(), "r", in_a_minute).unwrap();
        let expires_at = pair.expires_at().unwrap();
        assert!(expires_at >= before + Duration::from_secs(60), "{not_jwt}");
        assert!(
            expires_at <= SystemTime::now() + Duration::from_secs(60),
            "{not_jwt}"
        );
        let pair = TokenPair::new(not_jwt.as_str(), "r", None).unwrap();
        assert_eq!(pair.expires_at(), None, "{not_jwt}");
    }
}

#[test]
fn tokens_that_cannot_be_sent_are_refused_and_never_printed() {
    for (access, refresh) in [("", "r"), ("a", ""), ("line\nbreak", "r")] {
        let pair = TokenPair::new(access, refresh, None);
        assert!(matches!(pair, Err(TokenResponseError::InvalidToken)));
    }
    let pair = TokenPair::new("secret-access", "secret-refresh", None).unwrap();
    assert!(!format!("{pair:?}").contains("secret"));
}
