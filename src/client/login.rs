//! Obtaining the first token pair with a username and password.

use std::error::Error;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use tower_service::Service;

use super::exchange::post_for_tokens;
use super::{ClientError, ClientSession, TokenPair, TokenResponseError};

/// Signs in at `token_endpoint` (`POST` of `{"username", "password"}` as JSON) through
/// `service`, a plain HTTP client service (not the [`BearerService`](super::BearerService)).
///
/// Returns the first [`TokenPair`]; a 401 or 400 answer is [`ClientError::InvalidCredentials`].
pub async fn login<S, B, RB>(
    service: &mut S,
    token_endpoint: &Uri,
    username: &str,
    password: &str,
) -> Result<TokenPair, ClientError<S::Error>>
where
    S: Service<Request<B>, Response = Response<RB>>,
    B: From<Bytes>,
    RB: http_body::Body,
    RB::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let json = serde_json::json!({ "username": username, "password": password });
    match post_for_tokens(service, token_endpoint, json.to_string()).await? {
        Ok(pair) => Ok(pair),
        Err(StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST) => {
            Err(ClientError::InvalidCredentials)
        }
        Err(status) => Err(ClientError::TokenResponse(TokenResponseError::Status(
            status,
        ))),
    }
}

impl ClientSession {
    /// [`login`], keeping the pair in this session.
    pub async fn login<S, B, RB>(
        &self,
        service: &mut S,
        token_endpoint: &Uri,
        username: &str,
        password: &str,
    ) -> Result<(), ClientError<S::Error>>
    where
        S: Service<Request<B>, Response = Response<RB>>,
        B: From<Bytes>,
        RB: http_body::Body,
        RB::Error: Into<Box<dyn Error + Send + Sync>>,
    {
        let pair = login(service, token_endpoint, username, password).await?;
        self.set_tokens(pair);
        Ok(())
    }
}
