//! [`CrossOriginLayer`]: the rule of Go 1.25's `CrossOriginProtection`, from the
//! `Sec-Fetch-Site` and `Origin` headers, with no token.
//!
//! tower-http 0.7 implements the same rule (`tower_http::csrf`), but its only way to exempt a
//! request is a predicate over the method and URI, so it cannot exempt bearer-token requests,
//! and its check is not public to call from a layer that could. This module is the rule itself
//! (about fifty lines), with those exemptions, a JSON refusal and an audit event.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_core::body::Body;
use axum_core::extract::Request;
use axum_core::response::Response;
use http::header::{HOST, ORIGIN};
use http::uri::{Authority, Uri};
use http::{HeaderMap, Method, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{fetch_metadata_vouches, is_bearer, is_safe, rejection_event};
use crate::audit::{AuditHandle, AuditKind, AuditTarget, EventParts};
use crate::error::json_error;

/// Refuses cross-origin unsafe requests (CSRF) with 403 `{"error":"csrf"}`.
///
/// Safe methods (`GET`, `HEAD`, `OPTIONS`) pass. An unsafe one passes when:
///
/// 1. it carries `Authorization: Bearer …` (a browser never adds that to a forged request);
/// 2. `Sec-Fetch-Site` is `same-origin` or `none` (typed in the address bar);
/// 3. its `Origin` is one the app [trusts](Self::trust_origin);
/// 4. it has neither `Sec-Fetch-Site` nor `Origin` (not a browser, or a same-origin request of
///    a browser too old to say);
/// 5. without `Sec-Fetch-Site`, its `Origin` names the request's own host and port (`Host`).
///
/// Anything else is refused: `Sec-Fetch-Site: cross-site` or `same-site` (a sibling
/// subdomain is another origin), an `Origin` of another host, port or `null`. Login forms and
/// anonymous sessions are covered as every other route: put the layer outside the routes it
/// protects (a refused login never reaches its handler, so no session starts). Each refusal is
/// a `csrf_rejected` audit event, with the client's socket address and user agent, when an
/// audit handle is [given](Self::audit_through).
///
/// The rule trusts the `Host` and `Origin` that reach it: a proxy must forward both unchanged.
///
/// ```
/// use axum::{routing::post, Router};
/// use sessionward::csrf::CrossOriginLayer;
///
/// let app: Router = Router::new()
///     .route("/login", post(|| async { "signed in" }))
///     .layer(CrossOriginLayer::new().trust_origin("https://app.example.com")?);
/// # Ok::<(), sessionward::csrf::InvalidOrigin>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct CrossOriginLayer {
    trusted: Arc<HashSet<String>>,
    audit: AuditTarget,
}

/// An origin given to [`CrossOriginLayer::trust_origin`] that is no `http` or `https` origin
/// (a scheme and a host, an optional port, nothing else).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidOrigin(pub String);

impl std::fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is no origin: expected http(s)://host[:port] and nothing after it",
            self.0
        )
    }
}

impl std::error::Error for InvalidOrigin {}

impl CrossOriginLayer {
    /// The rule with no trusted origin and no audit trail.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also accepts unsafe requests whose `Origin` is `origin` (say, a front end served from
    /// another host), whatever `Sec-Fetch-Site` says.
    ///
    /// # Errors
    /// [`InvalidOrigin`] unless `origin` is `http(s)://host[:port]`.
    pub fn trust_origin(mut self, origin: &str) -> Result<Self, InvalidOrigin> {
        let canonical = origin
            .parse::<Uri>()
            .ok()
            .filter(|uri| {
                uri.path_and_query()
                    .is_none_or(|p| p.as_str().is_empty() || p.as_str() == "/")
            })
            .and_then(|uri| canonical(&uri))
            .ok_or_else(|| InvalidOrigin(origin.to_owned()))?;
        Arc::make_mut(&mut self.trusted).insert(canonical);
        Ok(self)
    }

    /// Records each refusal as a `csrf_rejected` event through `audit` (the session layer's
    /// handle, say, from [`SessionConfig::audit`](crate::SessionConfig::audit)) instead of the
    /// process's `tracing` trail ([`AuditHandle::tracing`], the default).
    pub fn audit_through(mut self, audit: AuditHandle) -> Self {
        self.audit = AuditTarget::Handle(audit);
        self
    }

    fn audit(&self, reason: &'static str, req: &Request) {
        if let Some(audit) = self.audit.for_kind(AuditKind::CsrfRejected) {
            let event = rejection_event(reason, req.headers(), req.extensions());
            audit.record_parts(EventParts::from(&event));
        }
    }
}

/// Why the rule of [`CrossOriginLayer`] refuses a request with `method` and `headers`, given
/// the `trusted` origins (canonical, see [`canonical`]), or `None` when it passes. The admin
/// router's own forgery check uses it too.
pub(crate) fn refusal(
    method: &Method,
    headers: &HeaderMap,
    trusted: &HashSet<String>,
) -> Option<&'static str> {
    if is_safe(method) || is_bearer(headers) || fetch_metadata_vouches(headers) {
        return None;
    }
    let origin = headers.get(ORIGIN).map(|value| value.as_bytes());
    let origin_uri = origin
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<Uri>().ok());
    let is_trusted = || {
        origin_uri
            .as_ref()
            .and_then(canonical)
            .is_some_and(|origin| trusted.contains(&origin))
    };
    match headers.get("sec-fetch-site").map(|value| value.as_bytes()) {
        None | Some(b"") => {}
        Some(_) if is_trusted() => return None,
        Some(_) => return Some("cross_site"),
    }
    if matches!(origin, None | Some(b"")) {
        return None;
    }
    if origin_uri
        .as_ref()
        .is_some_and(|uri| same_host(uri, headers))
        || is_trusted()
    {
        return None;
    }
    Some("origin_mismatch")
}

/// The default port of an `http` or `https` URI; `None` for any other scheme, or none.
fn default_port(uri: &Uri) -> Option<u16> {
    match uri.scheme_str()? {
        s if s.eq_ignore_ascii_case("http") => Some(80),
        s if s.eq_ignore_ascii_case("https") => Some(443),
        _ => None,
    }
}

/// `scheme://host[:port]` in lower case, the port only when it is not the scheme's default;
/// `None` for anything but an `http` or `https` URI with a host.
fn canonical(uri: &Uri) -> Option<String> {
    let default = default_port(uri)?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    Some(match uri.port_u16().filter(|&port| port != default) {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// Whether `origin` names the host and port the request was sent to (its `Host` header; an
/// implicit port is the origin scheme's default).
fn same_host(origin: &Uri, headers: &HeaderMap) -> bool {
    let Some(default) = default_port(origin) else {
        return false;
    };
    let Some(host) = headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<Authority>().ok())
    else {
        return false;
    };
    origin
        .host()
        .is_some_and(|name| name.eq_ignore_ascii_case(host.host()))
        && origin.port_u16().unwrap_or(default) == host.port_u16().unwrap_or(default)
}

impl<I> Layer<I> for CrossOriginLayer {
    type Service = CrossOriginService<I>;

    fn layer(&self, inner: I) -> Self::Service {
        CrossOriginService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`CrossOriginLayer`] makes.
#[derive(Clone, Debug)]
pub struct CrossOriginService<I> {
    inner: I,
    layer: CrossOriginLayer,
}

impl<I, ResBody> Service<Request> for CrossOriginService<I>
where
    I: Service<Request, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum_core::BoxError>,
{
    type Response = Response;
    type Error = I::Error;
    type Future = CrossOriginFuture<I::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if let Some(reason) = refusal(req.method(), req.headers(), &self.layer.trusted) {
            self.layer.audit(reason, &req);
            let response = Some(json_error(StatusCode::FORBIDDEN, "csrf"));
            return CrossOriginFuture {
                step: Step::Refused { response },
            };
        }
        CrossOriginFuture {
            step: Step::Passed {
                future: self.inner.call(req),
            },
        }
    }
}

pin_project! {
    /// The response future of [`CrossOriginService`]: the refusal, or the inner service's answer.
    pub struct CrossOriginFuture<F> {
        #[pin]
        step: Step<F>,
    }
}

pin_project! {
    #[project = StepProj]
    enum Step<F> {
        Refused { response: Option<Response> },
        Passed { #[pin] future: F },
    }
}

impl<F, ResBody, E> Future for CrossOriginFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum_core::BoxError>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().step.project() {
            StepProj::Refused { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            StepProj::Passed { future } => future
                .poll(cx)
                .map(|result| result.map(|res| res.map(Body::new))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_origins_are_origins_only() {
        for good in [
            "https://a.example",
            "http://a.example:8080",
            "https://A.example/",
        ] {
            assert!(CrossOriginLayer::new().trust_origin(good).is_ok(), "{good}");
        }
        for bad in [
            "a.example",
            "ftp://a.example",
            "https://a.example/x",
            "null",
            "",
        ] {
            assert_eq!(
                CrossOriginLayer::new().trust_origin(bad).unwrap_err(),
                InvalidOrigin(bad.to_owned())
            );
        }
        let uri = "HTTPS://A.Example:443".parse::<Uri>().unwrap();
        assert_eq!(canonical(&uri).as_deref(), Some("https://a.example"));
    }
}
