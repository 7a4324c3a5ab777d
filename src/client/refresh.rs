//! One refresh for many requests.

use std::error::Error;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use tower_service::Service;

use super::exchange::post_for_tokens;
use super::session::Current;
use super::{ClientError, ClientSession, TokenResponseError};

/// Replaces the pair a request saw (`seen`) with a fresh one, once for all the requests that
/// saw it.
///
/// Requests arriving while a refresh runs wait for it and use its pair: the refresh token is
/// single-use, so a second refresh with it would end the session. The refresh runs in a task
/// of its own so that it completes, and its answer is kept, even if the request that started
/// it is dropped (a timeout, a client going away).
pub(crate) async fn refresh<S, B, RB>(
    session: &Arc<ClientSession>,
    mut service: S,
    endpoint: &Uri,
    seen: u64,
) -> Result<Current, ClientError<S::Error>>
where
    S: Service<Request<B>, Response = Response<RB>> + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    B: From<Bytes> + Send + 'static,
    RB: http_body::Body + Send + 'static,
    RB::Data: Send,
    RB::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let turn = session.refreshing.clone().lock_owned().await;
    let current = session.current()?;
    if current.generation != seen {
        return Ok(current); // refreshed (or signed in again) while this request waited
    }
    let session = session.clone();
    let endpoint = endpoint.clone();
    let task = tokio::spawn(async move {
        let _turn = turn; // released once the answer is stored
        let json = serde_json::json!({ "refresh_token": current.pair.refresh_token() });
        match post_for_tokens(&mut service, &endpoint, json.to_string()).await? {
            Ok(pair) => session.refreshed(seen, pair),
            Err(StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN) => {
                session.expire(seen);
                Err(ClientError::SessionExpired)
            }
            // A server error leaves the pair: the refresh token may still be good.
            Err(status) => Err(ClientError::TokenResponse(TokenResponseError::Status(
                status,
            ))),
        }
    });
    match task.await {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(ClientError::TokenResponse(TokenResponseError::Interrupted)),
    }
}
