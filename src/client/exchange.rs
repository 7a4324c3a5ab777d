//! One POST of JSON to a token endpoint (sign-in or refresh), and its answer.

use std::error::Error;
use std::future::poll_fn;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use tower_service::Service;

use super::{ClientError, TokenPair, TokenResponseError};

/// A token answer is a few hundred bytes; anything past this is not one.
const MAX_ANSWER: usize = 64 * 1024;

/// Posts `json` to `endpoint` through `service`: `Ok(Ok(pair))` on a 2xx with a token pair,
/// `Ok(Err(status))` when the server answered another status.
pub(crate) async fn post_for_tokens<S, B, RB>(
    service: &mut S,
    endpoint: &Uri,
    json: String,
) -> Result<Result<TokenPair, StatusCode>, ClientError<S::Error>>
where
    S: Service<Request<B>, Response = Response<RB>>,
    B: From<Bytes>,
    RB: http_body::Body,
    RB::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let mut request = Request::new(B::from(Bytes::from(json)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = endpoint.clone();
    let json_type = HeaderValue::from_static("application/json");
    request
        .headers_mut()
        .insert(CONTENT_TYPE, json_type.clone());
    request.headers_mut().insert(ACCEPT, json_type);

    poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(ClientError::Transport)?;
    let response = service
        .call(request)
        .await
        .map_err(ClientError::Transport)?;
    let status = response.status();
    if !status.is_success() {
        return Ok(Err(status));
    }
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| ClientError::TokenResponse(TokenResponseError::Body(e)))?
        .to_bytes();
    TokenPair::from_json(&body)
        .map(Ok)
        .map_err(ClientError::TokenResponse)
}
