//! The default audit trail: without a sink of its own, the session layer, the cross-origin
//! layer and the remote routes report to `tracing` (target `sessionward::audit`), at each
//! event's level; `without_audit` turns the layer's trail off.
//!
//! This binary installs a global subscriber, at `info`, writing into a buffer: the audit
//! thread logs through the global subscriber, never through one set for a test's thread.

mod common;

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use axum::routing::post;
use axum::Router;
use common::{serve, set_cookie, WithSession};
use sessionward::admin::RemoteRouter;
use sessionward::audit::AuditHandle;
use sessionward::csrf::CrossOriginLayer;
use sessionward::store::MemoryStore;
use sessionward::SessionLayer;

/// Everything the global subscriber wrote.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The lines of the global subscriber (installed once for the binary) that mention `needle`,
/// once the process's `tracing` trail has delivered what was queued before the call.
async fn logged(needle: &str) -> Vec<String> {
    static LINES: OnceLock<Lines> = OnceLock::new();
    let lines = LINES.get_or_init(|| {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        lines
    });
    AuditHandle::tracing().flush().await;
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .filter(|line| line.contains(needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_layer_reports_to_tracing_unless_told_otherwise() {
    logged("").await; // the subscriber is in place before the first event
    let server =
        serve(common::routes::app().layer(SessionLayer::new(MemoryStore::default()))).await;
    // `session_created` is `debug`: a subscriber at `info` does not see it.
    let res = server.post("/set/n/1").send().await.unwrap();
    let anonymous = set_cookie(res.headers()).unwrap();
    let res = server
        .post("/login/default-alice")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    let token = set_cookie(res.headers()).unwrap();
    server.post("/logout").session(&token).send().await.unwrap();

    let lines = logged("default-alice").await;
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("sessionward::audit") && lines[0].contains("event=\"login\""));
    assert!(lines[1].contains("event=\"logout\""), "{lines:#?}");
    assert!(logged("session_created").await.is_empty());
    for line in logged("sessionward::audit").await {
        common::audit::assert_no_token(&line, &[&anonymous, &token]);
    }
}

#[tokio::test]
async fn without_audit_the_layer_reports_nothing() {
    logged("").await;
    let layer = SessionLayer::new(MemoryStore::default()).without_audit();
    assert!(layer.config().audit().is_none());
    let server = serve(common::routes::app().layer(layer)).await;
    let res = server.post("/login/silent-bob").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let token = set_cookie(res.headers()).unwrap();
    server.post("/logout").session(&token).send().await.unwrap();
    assert!(logged("silent-bob").await.is_empty());
}

#[tokio::test]
async fn the_cross_origin_layer_and_the_remote_routes_report_to_tracing_by_default() {
    logged("").await;
    let remote = RemoteRouter::new(MemoryStore::default(), [7u8; 16]).unwrap();
    let app = Router::new()
        .route("/form", post(|| async { "posted" }))
        .layer(CrossOriginLayer::new())
        .nest("/remote", remote.into_router());
    let server = serve(app).await;
    let res = server
        .post("/form")
        .header("sec-fetch-site", "cross-site")
        .header("user-agent", "default-trail-forger")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = server
        .post("/remote/users/alice/revoke")
        .header("x-sessionward-secret", "wrong")
        .header("user-agent", "default-trail-remote")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let forged = logged("default-trail-forger").await;
    assert_eq!(forged.len(), 1, "{forged:#?}");
    assert!(forged[0].contains("event=\"csrf_rejected\"") && forged[0].contains("WARN"));
    let denied = logged("default-trail-remote").await;
    assert_eq!(denied.len(), 1, "{denied:#?}");
    assert!(denied[0].contains("event=\"remote_denied\"") && denied[0].contains("wrong_secret"));
}
