//! A bearer client of the demo, through sessionward's client layer: signs in at
//! `POST /api/token`, then calls `GET /api/me` every 0.5 s for SECONDS seconds, refreshing the
//! access token as it nears expiry, and prints one line per call (`200 alice`).
//!
//! ```text
//! cargo run --release --example client -- http://127.0.0.1:3000 alice wonderland 10
//! ```
//!
//! Exit status: 0 when every call succeeded; 2 and `not logged in` when the credentials are
//! refused; 3 and `session expired` when the server refuses the refresh (the session was
//! revoked, logged out or expired); 1 on any other failure (bad arguments, server unreachable,
//! a call that did not answer 200).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sessionward::client::{BearerLayer, ClientError, ClientSession};
use tower::{Service, ServiceBuilder, ServiceExt};

const USAGE: &str = "usage: client URL USER PASSWORD SECONDS";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, user, password, seconds] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(1);
    };
    let (Ok(seconds), Some(base)) = (seconds.parse::<f64>(), base_url(url)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(1);
    };
    let endpoint = |path: &str| -> Uri { format!("{base}{path}").parse().expect("a valid URL") };

    let mut http =
        Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(HttpConnector::new());
    let session = Arc::new(ClientSession::new());
    match session
        .login(&mut http, &endpoint("/api/token"), user, password)
        .await
    {
        Ok(()) => {}
        Err(ClientError::InvalidCredentials) => {
            println!("not logged in");
            return ExitCode::from(2);
        }
        Err(err) => {
            eprintln!("sign-in failed: {err}");
            return ExitCode::from(1);
        }
    }
    let mut api = ServiceBuilder::new()
        .layer(BearerLayer::new(endpoint("/api/token/refresh"), session))
        .service(http);

    let calls = (seconds * 2.0).ceil().max(1.0) as u64;
    let mut every = tokio::time::interval(Duration::from_millis(500));
    let mut failed = false;
    for _ in 0..calls {
        every.tick().await;
        let request = http::Request::get(endpoint("/api/me"))
            .body(Full::default())
            .expect("a valid request");
        let response = match api.ready().await {
            Ok(api) => api.call(request).await,
            Err(err) => Err(err),
        };
        match response {
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await.map(|b| b.to_bytes());
                let who = body
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| v["user"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                println!("{} {who}", status.as_u16());
                failed |= status != http::StatusCode::OK;
            }
            Err(ClientError::SessionExpired) => {
                println!("session expired");
                return ExitCode::from(3);
            }
            Err(err) => {
                eprintln!("call failed: {err}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `url` without a trailing slash, if it is an absolute http URL.
fn base_url(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    (uri.scheme_str() == Some("http") && uri.authority().is_some())
        .then(|| url.trim_end_matches('/').to_owned())
}
