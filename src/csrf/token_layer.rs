//! [`CsrfTokenLayer`]: the token fallback's check on unsafe requests.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_core::body::Body;
use axum_core::extract::Request;
use axum_core::response::{IntoResponse, Response};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::token::{check, CheckError, CsrfToken, Mismatch};
use super::{fetch_metadata_vouches, is_bearer, is_safe};
use crate::audit::AuditKind;
use crate::error::{json_error, SessionRejection};
use crate::Session;

/// How much of a form body the layer reads to find the token, unless
/// [`max_form_bytes`](CsrfTokenLayer::max_form_bytes) says otherwise.
const DEFAULT_MAX_FORM_BYTES: usize = 64 * 1024;

/// Checks the [`CsrfToken`] of every unsafe cookie-authenticated request, and refuses one
/// without a valid token with 403 `{"error":"csrf"}`.
///
/// The token is read from the `X-CSRF-Token` header or, when there is none and the body is
/// `application/x-www-form-urlencoded`, from its `csrf_token` field (the body is read up to
/// [`max_form_bytes`](Self::max_form_bytes), then handed on unchanged). Any other body
/// (JSON, `multipart/form-data`) needs the header, or a handler that calls
/// [`verify_token`](super::verify_token) itself.
///
/// These pass without a token: safe methods (`GET`, `HEAD`, `OPTIONS`), requests with
/// `Authorization: Bearer …`, and, with [`trust_fetch_metadata`](Self::trust_fetch_metadata),
/// requests whose `Sec-Fetch-Site` is `same-origin` or `none`.
///
/// A refusal is reported to the session layer's audit trail as `csrf_rejected`, with the
/// session, the client and the reason `token_missing`, `token_mismatch`
/// (not this session's token, or its session's token has changed since) or `no_session`. A
/// form over the size limit gets 413 `{"error":"payload_too_large"}`; a store failure
/// answers as the session layer does.
///
/// Put it inside [`SessionLayer`](crate::SessionLayer): it reads the request's
/// [`Session`]. Without one it answers 500 `{"error":"session_layer_missing"}`.
///
/// ```
/// use axum::{routing::post, Router};
/// use sessionward::csrf::CsrfTokenLayer;
/// use sessionward::{store::MemoryStore, SessionLayer};
///
/// let app: Router = Router::new()
///     .route("/profile", post(|| async { "saved" }))
///     .layer(CsrfTokenLayer::new())
///     .layer(SessionLayer::new(MemoryStore::default()));
/// ```
#[derive(Clone, Debug)]
pub struct CsrfTokenLayer {
    trust_fetch_metadata: bool,
    max_form_bytes: usize,
}

impl Default for CsrfTokenLayer {
    fn default() -> Self {
        Self {
            trust_fetch_metadata: false,
            max_form_bytes: DEFAULT_MAX_FORM_BYTES,
        }
    }
}

impl CsrfTokenLayer {
    /// Every unsafe request that is not a bearer-token request needs a token; forms are read
    /// up to 64 KiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets requests whose `Sec-Fetch-Site` is `same-origin` or `none` pass without a token:
    /// the browser has vouched for them. Only browsers that send no Fetch Metadata then need
    /// the token; pair it with [`CrossOriginLayer`](super::CrossOriginLayer), which refuses
    /// the cross-site requests of the others.
    pub fn trust_fetch_metadata(mut self) -> Self {
        self.trust_fetch_metadata = true;
        self
    }

    /// Reads at most `limit` bytes of an `application/x-www-form-urlencoded` body looking for
    /// the token; a longer form gets 413.
    pub fn max_form_bytes(mut self, limit: usize) -> Self {
        self.max_form_bytes = limit;
        self
    }

    /// Whether `headers` of an unsafe request let it pass unchecked.
    fn exempt(&self, headers: &HeaderMap) -> bool {
        is_bearer(headers) || (self.trust_fetch_metadata && fetch_metadata_vouches(headers))
    }

    /// Checks `req`, then hands it to `inner`, or answers in its place.
    async fn check<I>(self, mut inner: I, req: Request) -> Result<Response, I::Error>
    where
        I: Service<Request, Response = Response>,
    {
        let Some(session) = req.extensions().get::<Session>().cloned() else {
            return Ok(SessionRejection::MissingLayer.into_response());
        };
        let (presented, req) = match self.presented(req).await {
            Ok(found) => found,
            Err(refusal) => return Ok(refusal),
        };
        let outcome = match presented {
            Some(token) => check(&session, &token).await,
            None => Err(Mismatch::Missing.into()),
        };
        match outcome {
            Ok(()) => inner.call(req).await,
            Err(CheckError::Session(err)) => Ok(err.into_response()),
            Err(CheckError::Mismatch(mismatch)) => {
                // Loaded by the check already, if there is a session: no store call.
                let record = session.record().await.ok().flatten();
                session.audit(
                    AuditKind::CsrfRejected,
                    record.as_ref().map(|r| r.id),
                    record.as_ref().and_then(|r| r.user.as_deref()),
                    Some(mismatch.reason().into()),
                );
                Ok(json_error(StatusCode::FORBIDDEN, "csrf"))
            }
        }
    }

    /// The token `req` presents, and `req` with its body intact; or the answer to a form too
    /// large to read.
    async fn presented(&self, req: Request) -> Result<(Option<Vec<u8>>, Request), Response> {
        if let Some(value) = req.headers().get(CsrfToken::HEADER) {
            return Ok((Some(value.as_bytes().to_vec()), req));
        }
        if !is_form(req.headers()) {
            return Ok((None, req));
        }
        let too_large = || json_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_form_bytes as u64) {
            return Err(too_large());
        }
        let (parts, body) = req.into_parts();
        // A body cut short by the client fails here too; either way nothing reaches the app.
        let bytes = axum::body::to_bytes(body, self.max_form_bytes)
            .await
            .map_err(|_| too_large())?;
        let token = form_urlencoded::parse(&bytes)
            .find(|(name, _)| name == CsrfToken::FORM_FIELD)
            .map(|(_, value)| value.into_owned().into_bytes());
        Ok((token, Request::from_parts(parts, Body::from(bytes))))
    }
}

/// `Content-Type: application/x-www-form-urlencoded`, with or without parameters.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

impl<I> Layer<I> for CsrfTokenLayer {
    type Service = CsrfTokenService<I>;

    fn layer(&self, inner: I) -> Self::Service {
        CsrfTokenService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`CsrfTokenLayer`] makes.
#[derive(Clone, Debug)]
pub struct CsrfTokenService<I> {
    inner: I,
    layer: CsrfTokenLayer,
}

impl<I> Service<Request> for CsrfTokenService<I>
where
    I: Service<Request, Response = Response> + Clone + Send + 'static,
    I::Future: Send + 'static,
    I::Error: 'static,
{
    type Response = Response;
    type Error = I::Error;
    type Future = CsrfTokenFuture<I::Future, I::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if is_safe(req.method()) || self.layer.exempt(req.headers()) {
            return CsrfTokenFuture {
                step: Step::Passed {
                    future: self.inner.call(req),
                },
            };
        }
        // The ready service goes with the request; the clone waits for the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        CsrfTokenFuture {
            step: Step::Checking {
                future: Box::pin(self.layer.clone().check(inner, req)),
            },
        }
    }
}

type Checking<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

pin_project! {
    /// The response future of [`CsrfTokenService`]: the inner service's answer to a request
    /// that needs no check, or the check and then that answer (or the refusal).
    pub struct CsrfTokenFuture<F, E> {
        #[pin]
        step: Step<F, E>,
    }
}

pin_project! {
    #[project = StepProj]
    enum Step<F, E> {
        Passed { #[pin] future: F },
        Checking { future: Checking<E> },
    }
}

impl<F, E> Future for CsrfTokenFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().step.project() {
            StepProj::Passed { future } => future.poll(cx),
            StepProj::Checking { future } => future.as_mut().poll(cx),
        }
    }
}
