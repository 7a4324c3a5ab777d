//! Delivering the audit trail: a stuck sink never holds up a request (the overflow is counted),
//! a failing or panicking sink fails no request, and the JSON-lines, broadcast and fan-out
//! sinks deliver what they promise.

mod common;

use std::io::{self, Write};
use std::sync::{Arc, Barrier, Mutex};

use common::audit::{self, Recorder, AGENT};
use common::{set_cookie, WithSession};
use sessionward::audit::{
    AuditEvent, AuditHandle, AuditKind, AuditSink, BroadcastAudit, JsonLinesAudit,
};
use sessionward::store::MemoryStore;
use sessionward::SessionLayer;
use tokio::sync::mpsc;

/// A sink that, on its first event, says so and then waits at a barrier until the test lets
/// it go; it records every event.
struct Stuck {
    entered: mpsc::UnboundedSender<()>,
    release: Arc<Barrier>,
    held: bool,
    recorder: Recorder,
}

impl AuditSink for Stuck {
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        if !self.held {
            self.held = true;
            self.entered.send(()).unwrap();
            self.release.wait();
        }
        self.recorder.record(event)
    }
}

#[tokio::test]
async fn a_stuck_sink_holds_up_no_request_and_the_overflow_is_counted() {
    const CAPACITY: usize = 4;
    const MORE: usize = 10;
    let (entered, mut sink_entered) = mpsc::unbounded_channel();
    let release = Arc::new(Barrier::new(2));
    let recorder = Recorder::default();
    let sink = Stuck {
        entered,
        release: Arc::clone(&release),
        held: false,
        recorder: recorder.clone(),
    };
    let handle = AuditHandle::with_capacity(sink, CAPACITY);
    let layer = SessionLayer::new(MemoryStore::default()).audit_through(handle.clone());
    let server = audit::serve(audit::routes::app().layer(layer)).await;

    // Each of these requests causes exactly one event.
    let res = server.post("/login-failed/first").send().await.unwrap();
    assert_eq!(res.status(), 401);
    sink_entered
        .recv()
        .await
        .expect("the sink took the first event");
    // The sink is stuck: the queue takes CAPACITY events, the rest are dropped, and every
    // request is answered all the same.
    for n in 0..CAPACITY + MORE {
        let res = server
            .post(&format!("/login-failed/u{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(handle.dropped(), MORE as u64);

    let release = Arc::clone(&release);
    tokio::task::spawn_blocking(move || release.wait())
        .await
        .unwrap();
    let users: Vec<String> = recorder
        .take(&handle)
        .await
        .into_iter()
        .map(|e| e.user.unwrap())
        .collect();
    let mut expected = vec!["first".to_owned()];
    expected.extend((0..CAPACITY).map(|n| format!("u{n}")));
    assert_eq!(
        users, expected,
        "the events queued before the overflow, in order"
    );
    assert_eq!(handle.dropped(), MORE as u64);
    assert_eq!(handle.failed(), 0);
}

/// Panics on every `login_failed` event; keeps the rest.
struct Panicky(Recorder);

impl AuditSink for Panicky {
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        if event.event == AuditKind::LoginFailed {
            panic!("a sink bug (expected by the test)");
        }
        self.0.record(event)
    }
}

/// Fails on every event.
struct Failing;

impl AuditSink for Failing {
    fn record(&mut self, _: &AuditEvent) -> io::Result<()> {
        Err(io::Error::other("disk full (test)"))
    }
}

#[tokio::test]
async fn a_panicking_sink_fails_no_request_and_keeps_receiving_events() {
    let recorder = Recorder::default();
    let layer = SessionLayer::new(MemoryStore::default()).audit(Panicky(recorder.clone()));
    let handle = layer.config().audit().cloned().unwrap();
    let server = audit::serve(audit::routes::app().layer(layer)).await;
    for _ in 0..3 {
        let res = server.post("/login-failed/alice").send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = server.post("/login/alice").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let token = set_cookie(res.headers()).unwrap();
    let res = server.post("/logout").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let kinds = recorder.kinds(&handle).await;
    assert_eq!(kinds, [AuditKind::Login, AuditKind::Logout]);
    assert_eq!(handle.failed(), 3);
    assert_eq!(handle.dropped(), 0);
}

#[tokio::test]
async fn a_failing_sink_fails_no_request_and_each_failure_is_counted() {
    let layer = SessionLayer::new(MemoryStore::default()).audit(Failing);
    let handle = layer.config().audit().cloned().unwrap();
    let server = audit::serve(audit::routes::app().layer(layer)).await;
    let res = server.post("/login/alice").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let token = set_cookie(res.headers()).unwrap();
    let res = server.post("/logout").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    handle.flush().await;
    assert_eq!(handle.failed(), 2);
}

/// A writer the test can read back while the sink owns it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_json_lines_sink_writes_one_parseable_object_per_line() {
    let out = Shared::default();
    let layer = SessionLayer::new(MemoryStore::default()).audit(JsonLinesAudit::new(out.clone()));
    let handle = layer.config().audit().cloned().unwrap();
    let server = audit::serve(audit::routes::app().layer(layer)).await;
    let res = server.post("/login/alice").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();
    let id = server.describe(&token).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.post("/logout").session(&token).send().await.unwrap();
    // A user name that tries to forge a line of its own.
    server
        .post("/login-failed/eve%0A%7B%22event%22%3A%22login%22%7D")
        .send()
        .await
        .unwrap();
    handle.flush().await;

    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    audit::assert_no_token(&text, &[&token]);
    assert!(text.ends_with('\n'));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let login = &lines[0];
    assert_eq!(login["event"], "login");
    assert_eq!(login["session_id"], id.as_str());
    assert_eq!(login["user"], "alice");
    assert_eq!(login["ip"], "127.0.0.1");
    assert_eq!(login["user_agent"], AGENT);
    assert_eq!(login["reason"], serde_json::Value::Null);
    let time = login["time"].as_str().unwrap();
    time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
        .expect("an RFC 3339 time");
    assert_eq!(lines[1]["event"], "logout");
    assert_eq!(lines[2]["event"], "login_failed");
    assert_eq!(lines[2]["user"], "eve\n{\"event\":\"login\"}");
    assert_eq!(lines[2]["reason"], "invalid_credentials");
}

#[tokio::test]
async fn the_broadcast_sink_delivers_to_every_subscriber_beside_another_sink() {
    let live = BroadcastAudit::new(16);
    let mut first = live.subscribe();
    let mut second = live.subscribe();
    let recorder = Recorder::default();
    let layer = SessionLayer::new(MemoryStore::default()).audit(live.clone().and(recorder.clone()));
    let handle = layer.config().audit().cloned().unwrap();
    let server = audit::serve(audit::routes::app().layer(layer)).await;
    let res = server.post("/login/alice").send().await.unwrap();
    assert_eq!(res.status(), 200);
    for receiver in [&mut first, &mut second] {
        let event = receiver.recv().await.unwrap();
        assert_eq!(event.event, AuditKind::Login);
        assert_eq!(event.user.as_deref(), Some("alice"));
    }
    let kinds = recorder.kinds(&handle).await;
    assert_eq!(kinds, [AuditKind::Login], "the fan-out's other sink");
}

#[tokio::test]
async fn an_app_records_events_of_its_own_through_the_handle() {
    let recorder = Recorder::default();
    let handle = AuditHandle::new(recorder.clone());
    let event = AuditEvent::new(AuditKind::CsrfRejected)
        .with_ip("192.0.2.1".parse().unwrap())
        .with_user_agent(&"x".repeat(1000))
        .with_reason("cross-site form");
    handle.record(event);
    let events = recorder.take(&handle).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, AuditKind::CsrfRejected);
    assert_eq!(events[0].user_agent.as_ref().map(String::len), Some(256));
    assert_eq!(events[0].reason.as_deref(), Some("cross-site form"));
}

#[test]
fn each_kind_serializes_as_its_name() {
    for kind in AuditKind::ALL {
        let json = serde_json::to_value(AuditEvent::new(kind)).unwrap();
        assert_eq!(json["event"], kind.as_str());
        assert_eq!(kind.to_string(), kind.as_str());
    }
}

#[tokio::test]
async fn a_fan_out_still_feeds_its_second_sink_when_the_first_panics() {
    let recorder = Recorder::default();
    let sink = Panicky(Recorder::default()).and(recorder.clone());
    let layer = SessionLayer::new(MemoryStore::default()).audit(sink);
    let handle = layer.config().audit().cloned().unwrap();
    let server = audit::serve(audit::routes::app().layer(layer)).await;
    let res = server.post("/login-failed/alice").send().await.unwrap();
    assert_eq!(res.status(), 401);
    let events = recorder.take(&handle).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, AuditKind::LoginFailed);
    assert_eq!(handle.failed(), 1, "the panic is still counted");
}

/// Keeps logins and logouts only, by its filter; records whatever reaches it.
struct SignInsOnly(Recorder);

impl AuditSink for SignInsOnly {
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        self.0.record(event)
    }

    fn filter(&self) -> Option<fn(AuditKind) -> bool> {
        Some(|kind| matches!(kind, AuditKind::Login | AuditKind::Logout))
    }
}

#[tokio::test]
async fn events_a_sink_filters_out_are_never_queued_nor_counted_as_dropped() {
    let recorder = Recorder::default();
    let handle = AuditHandle::with_capacity(SignInsOnly(recorder.clone()), 1);
    let layer = SessionLayer::new(MemoryStore::default()).audit_through(handle.clone());
    let server = audit::serve(audit::routes::app().layer(layer)).await;
    // An anonymous session (`session_created`), a failed login, a login, a logout.
    let res = server.post("/set/n/1").send().await.unwrap();
    let anonymous = set_cookie(res.headers()).unwrap();
    server.post("/login-failed/mallory").send().await.unwrap();
    let res = server
        .post("/login/alice")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    let token = set_cookie(res.headers()).unwrap();
    // Delivered before the logout is queued: two kept events in a row could meet a queue of
    // one still full, which is not what this test is about.
    assert_eq!(recorder.kinds(&handle).await, [AuditKind::Login]);
    server.post("/logout").session(&token).send().await.unwrap();
    handle.record(AuditEvent::new(AuditKind::CsrfRejected));

    assert_eq!(recorder.kinds(&handle).await, [AuditKind::Logout]);
    assert_eq!(handle.dropped(), 0, "a queue of one never overflowed");
    assert_eq!(handle.failed(), 0);
}

#[test]
fn the_tracing_sink_queues_only_what_a_subscriber_listens_to() {
    use sessionward::audit::TracingAudit;
    let filter = TracingAudit::default()
        .filter()
        .expect("the tracing sink filters");
    // No subscriber on this thread (nor a global one in this test binary): nothing listens.
    assert!(AuditKind::ALL.into_iter().all(|kind| !filter(kind)));
    let info = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(io::sink)
        .finish();
    tracing::subscriber::with_default(info, || {
        assert!(filter(AuditKind::Login));
        assert!(filter(AuditKind::LoginFailed), "warn");
        assert!(!filter(AuditKind::SessionCreated), "debug");
        assert!(!filter(AuditKind::Renewed), "debug");
    });
    // Two tracing sinks share one test; a sink without a test makes the pair queue everything.
    let pair = TracingAudit::default().and(TracingAudit::default());
    assert!(pair.filter().is_some());
    assert!(TracingAudit::default()
        .and(Recorder::default())
        .filter()
        .is_none());
}
