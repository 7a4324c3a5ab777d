//! The client side of a bearer-token API (feature `client`): a tower layer for HTTP client
//! services that signs requests and keeps the tokens fresh.
//!
//! [`BearerLayer`] wraps any `Service<http::Request<B>>` (hyper-util's client, or a stack of
//! tower middleware around it). For each request, [`BearerService`]:
//!
//! - adds `Authorization: Bearer <access token>` from the shared [`ClientSession`];
//! - refreshes first if the access token is within its [`RefreshMargin`] of expiry (read from
//!   the JWT's `exp` without checking the signature, else from the answer's `expires_in`);
//! - on a 401, refreshes once and sends the request once more; a 401 to a request sent with a
//!   token refreshed for it is returned as is, so nothing loops;
//! - makes one refresh for all the requests that need it at the same time;
//! - fails with a typed [`ClientError`]: [`NotLoggedIn`](ClientError::NotLoggedIn) (nothing is
//!   sent), [`SessionExpired`](ClientError::SessionExpired) (the server refused the refresh
//!   token: sign in again), [`Transport`](ClientError::Transport).
//!
//! [`login`] (or [`ClientSession::login`]) obtains the first pair.
//!
//! The refresh goes through the same inner service, as `POST <refresh endpoint>` with
//! `{"refresh_token": ...}`, and expects the answer of the sign-in: `{"access_token",
//! "token_type": "Bearer", "expires_in", "refresh_token"}`.
//!
//! # Request bodies
//!
//! The body type `B` must be `From<Bytes>` (to build the refresh request) and `Clone`: a
//! request refused with 401 is sent again, so its body must be replayable, as with tower's
//! retry. `http_body_util::Full<Bytes>`, `Empty<Bytes>` and `String` qualify; a streaming body
//! does not. Requests must carry an absolute URI, as hyper-util's client requires.
//!
//! # Sharing
//!
//! [`BearerService`] is `Clone`, `Send` and `Sync` when the inner service is: clone it into as
//! many tasks as needed; all clones share the [`ClientSession`], so one refresh serves them
//! all. Refreshes run on the tokio runtime (`tokio::spawn`).
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_util::client::legacy::{connect::HttpConnector, Client};
//! use hyper_util::rt::TokioExecutor;
//! use sessionward::client::{BearerLayer, ClientSession};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut http = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(HttpConnector::new());
//! let session = Arc::new(ClientSession::new());
//! session
//!     .login(&mut http, &"http://127.0.0.1:3000/api/token".parse()?, "alice", "wonderland")
//!     .await?;
//!
//! let refresh = "http://127.0.0.1:3000/api/token/refresh".parse()?;
//! let mut api = ServiceBuilder::new()
//!     .layer(BearerLayer::new(refresh, session.clone()))
//!     .service(http);
//! let request = http::Request::get("http://127.0.0.1:3000/api/me").body(Full::default())?;
//! let response = api.ready().await?.call(request).await?;
//! println!("{}", response.status());
//! # Ok(())
//! # }
//! ```

mod error;
mod exchange;
mod login;
mod refresh;
mod session;
mod tokens;

use std::error::Error;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode, Uri};
use tower_layer::Layer;
use tower_service::Service;

pub use error::{ClientError, TokenResponseError};
pub use login::login;
pub use session::{ClientSession, RefreshMargin};
pub use tokens::TokenPair;

use refresh::refresh;

/// Wraps an HTTP client service in a [`BearerService`]: see the [module docs](self).
#[derive(Clone, Debug)]
pub struct BearerLayer {
    refresh_endpoint: Uri,
    session: Arc<ClientSession>,
}

impl BearerLayer {
    /// Signs requests with `session`'s tokens, refreshing them at `refresh_endpoint` (an
    /// absolute URI such as `https://api.example.com/api/token/refresh`).
    pub fn new(refresh_endpoint: Uri, session: Arc<ClientSession>) -> Self {
        Self {
            refresh_endpoint,
            session,
        }
    }
}

impl<S> Layer<S> for BearerLayer {
    type Service = BearerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerService {
            inner,
            refresh_endpoint: self.refresh_endpoint.clone(),
            session: self.session.clone(),
        }
    }
}

/// An HTTP client service that adds the bearer token and refreshes it: see the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct BearerService<S> {
    inner: S,
    refresh_endpoint: Uri,
    session: Arc<ClientSession>,
}

impl<S> BearerService<S> {
    /// The session whose tokens this service sends.
    pub fn session(&self) -> &Arc<ClientSession> {
        &self.session
    }
}

/// The future of a [`BearerService`] call.
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, ClientError<E>>> + Send>>;

impl<S, B, RB> Service<Request<B>> for BearerService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    B: From<Bytes> + Clone + Send + 'static,
    RB: http_body::Body + Send + 'static,
    RB::Data: Send,
    RB::Error: Into<Box<dyn Error + Send + Sync>>,
{
    type Response = Response<RB>;
    type Error = ClientError<S::Error>;
    type Future = ResponseFuture<Response<RB>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(ClientError::Transport)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The readied service serves this call; the clone stays for the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(send(
            inner,
            self.session.clone(),
            self.refresh_endpoint.clone(),
            request,
        ))
    }
}

async fn send<S, B, RB>(
    mut inner: S,
    session: Arc<ClientSession>,
    endpoint: Uri,
    request: Request<B>,
) -> Result<Response<RB>, ClientError<S::Error>>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    B: From<Bytes> + Clone + Send + 'static,
    RB: http_body::Body + Send + 'static,
    RB::Data: Send,
    RB::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let mut current = session.current()?;
    let refreshed = session.needs_refresh(&current.pair);
    if refreshed {
        // Give back what readiness holds (a concurrency-limit permit, say) while waiting: the
        // refresh may need it.
        let spare = inner.clone();
        drop(std::mem::replace(&mut inner, spare));
        current = refresh(&session, inner.clone(), &endpoint, current.generation).await?;
        poll_fn(|cx| inner.poll_ready(cx))
            .await
            .map_err(ClientError::Transport)?;
    }
    let response = inner
        .call(with_bearer(request.clone(), &current))
        .await
        .map_err(ClientError::Transport)?;
    // A 401 with a token just refreshed is not the token's age: return it rather than loop.
    if response.status() != StatusCode::UNAUTHORIZED || refreshed {
        return Ok(response);
    }
    drop(response);
    let current = refresh(&session, inner.clone(), &endpoint, current.generation).await?;
    poll_fn(|cx| inner.poll_ready(cx))
        .await
        .map_err(ClientError::Transport)?;
    inner
        .call(with_bearer(request, &current))
        .await
        .map_err(ClientError::Transport)
}

fn with_bearer<B>(mut request: Request<B>, current: &session::Current) -> Request<B> {
    request
        .headers_mut()
        .insert(AUTHORIZATION, current.pair.authorization().clone());
    request
}
