//! The audit trail over real HTTP: each action produces its event, with the time, the
//! session's public id (never its token or token hash), the user, the client's IP and user
//! agent, and a reason where one applies. A request that causes nothing reports nothing.

mod common;

use std::time::{Duration, SystemTime};

use common::audit::{self, check, Expected, Recorder};
use common::{set_cookie, FlakyStore, Server, WithSession};
use sessionward::audit::{AuditEvent, AuditHandle, AuditKind};
use sessionward::store::{MemoryStore, Overflow, SessionPatch, SessionStore};
use sessionward::token::SessionToken;
use sessionward::SessionLayer;

/// A server on `layer` (over `store`) reporting to a recorder.
struct Audited {
    server: Server,
    store: MemoryStore,
    recorder: Recorder,
    handle: AuditHandle,
}

impl Audited {
    async fn start(
        change: impl FnOnce(SessionLayer<MemoryStore>) -> SessionLayer<MemoryStore>,
    ) -> Self {
        let store = MemoryStore::default();
        let recorder = Recorder::default();
        let layer = change(SessionLayer::new(store.clone()).audit(recorder.clone()));
        let handle = layer.config().audit().cloned().expect("an audit sink");
        let server = audit::serve(audit::routes::app().layer(layer)).await;
        Self {
            server,
            store,
            recorder,
            handle,
        }
    }

    async fn events(&self) -> Vec<AuditEvent> {
        self.recorder.take(&self.handle).await
    }

    /// Signs `user` in on a fresh client (no session yet); returns the token and public id.
    async fn login(&self, user: &str) -> (String, String) {
        let res = self
            .server
            .post(&format!("/login/{user}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let token = set_cookie(res.headers()).unwrap();
        let id = self.id(&token).await;
        (token, id)
    }

    /// The public id of the session `token` names.
    async fn id(&self, token: &str) -> String {
        let described = self.server.describe(token).await;
        described["id"].as_str().expect("a session").to_owned()
    }

    /// Moves the session's deadlines as `patch` says.
    async fn patch(&self, token: &str, patch: SessionPatch) {
        let key = SessionToken::parse(token.as_bytes()).unwrap().hash();
        assert!(
            self.store.update(&key, &patch).await.unwrap(),
            "session stored"
        );
    }
}

fn expect<'a>(
    kind: AuditKind,
    session_id: Option<&'a str>,
    user: Option<&'a str>,
    reason: Option<&'a str>,
) -> Expected<'a> {
    Expected {
        kind,
        session_id,
        user,
        reason,
    }
}

#[tokio::test]
async fn a_new_anonymous_session_login_rotation_and_logout_are_each_audited() {
    let a = Audited::start(|layer| layer).await;
    let since = SystemTime::now();
    let res = a.server.post("/set/theme/dark").send().await.unwrap();
    assert_eq!(res.status(), 204);
    let anonymous = set_cookie(res.headers()).unwrap();
    let id = a.id(&anonymous).await;
    let res = a
        .server
        .post("/login/alice")
        .session(&anonymous)
        .send()
        .await
        .unwrap();
    let signed_in = set_cookie(res.headers()).unwrap();
    let res = a
        .server
        .post("/rotate")
        .session(&signed_in)
        .send()
        .await
        .unwrap();
    let rotated = set_cookie(res.headers()).unwrap();
    let res = a
        .server
        .post("/logout")
        .session(&rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let tokens = [anonymous.as_str(), &signed_in, &rotated];
    let events = a.events().await;
    let kinds: Vec<AuditKind> = events.iter().map(|e| e.event).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::SessionCreated,
            AuditKind::Login,
            AuditKind::Rotated,
            AuditKind::Logout
        ]
    );
    // The public id is stable across login and rotation; the user is known from login on.
    let id = Some(id.as_str());
    check(
        &events[0],
        expect(AuditKind::SessionCreated, id, None, None),
        since,
        &tokens,
    );
    check(
        &events[1],
        expect(AuditKind::Login, id, Some("alice"), None),
        since,
        &tokens,
    );
    check(
        &events[2],
        expect(AuditKind::Rotated, id, Some("alice"), None),
        since,
        &tokens,
    );
    check(
        &events[3],
        expect(AuditKind::Logout, id, Some("alice"), None),
        since,
        &tokens,
    );
}

#[tokio::test]
async fn requests_that_change_nothing_report_nothing() {
    let a = Audited::start(|layer| layer).await;
    let (token, _) = a.login("alice").await;
    a.events().await;
    for path in ["/untouched", "/get/theme", "/me", "/describe"] {
        let res = a.server.get(path).session(&token).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let res = a.server.get("/get/theme").send().await.unwrap();
    assert_eq!(res.status(), 200);
    // A logout without a session ends nothing.
    let res = a.server.post("/logout").send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(a.events().await, []);
}

#[tokio::test]
async fn a_renewal_is_audited() {
    let a = Audited::start(|layer| layer).await;
    let (token, id) = a.login("alice").await;
    a.events().await;
    let since = SystemTime::now();
    let five_minutes_ago = SystemTime::now() - Duration::from_secs(5 * 60);
    let patch = SessionPatch {
        last_seen_at: Some(five_minutes_ago),
        ..SessionPatch::default()
    };
    a.patch(&token, patch).await;
    let res = a.server.get("/me").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let events = a.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let expected = expect(AuditKind::Renewed, Some(&id), Some("alice"), None);
    check(&events[0], expected, since, &[&token]);
}

#[tokio::test]
async fn revoking_other_sessions_names_each_one() {
    let a = Audited::start(|layer| layer).await;
    let (laptop, laptop_id) = a.login("alice").await;
    let (phone, phone_id) = a.login("alice").await;
    let (tablet, tablet_id) = a.login("alice").await;
    let (desktop, desktop_id) = a.login("alice").await;
    a.events().await;
    let since = SystemTime::now();
    let res = a
        .server
        .post(&format!("/revoke/{phone_id}"))
        .session(&laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "true");
    let tokens = [laptop.as_str(), &phone, &tablet, &desktop];
    let events = a.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let expected = expect(AuditKind::Revoked, Some(&phone_id), Some("alice"), None);
    check(&events[0], expected, since, &tokens);

    let res = a
        .server
        .post("/revoke-others")
        .session(&laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "2");
    let mut events = a.events().await;
    events.sort_by_key(|e| e.session_id.map(|id| id.to_string()));
    let mut others = [tablet_id, desktop_id];
    others.sort();
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, id) in events.iter().zip(&others) {
        let expected = expect(AuditKind::Revoked, Some(id), Some("alice"), None);
        check(event, expected, since, &tokens);
    }
    assert!(events
        .iter()
        .all(|e| e.session_id.unwrap().to_string() != laptop_id));
}

#[tokio::test]
async fn an_eviction_names_the_evicted_session_and_the_limit() {
    let a = Audited::start(|l| l.max_sessions_per_user(1, Overflow::EvictLeastRecentlyUsed)).await;
    let (first, first_id) = a.login("alice").await;
    a.events().await;
    let since = SystemTime::now();
    let (second, second_id) = a.login("alice").await;
    let events = a.events().await;
    let tokens = [first.as_str(), &second];
    assert_eq!(events.len(), 2, "{events:?}");
    let expected = expect(
        AuditKind::Evicted,
        Some(&first_id),
        Some("alice"),
        Some("session_limit"),
    );
    check(&events[0], expected, since, &tokens);
    let expected = expect(AuditKind::Login, Some(&second_id), Some("alice"), None);
    check(&events[1], expected, since, &tokens);
}

#[tokio::test]
async fn a_login_refused_by_a_limit_is_a_failed_login() {
    let a = Audited::start(|l| l.max_signed_in_sessions(1)).await;
    let (token, _) = a.login("alice").await;
    a.events().await;
    let since = SystemTime::now();
    let res = a.server.post("/login/bob").send().await.unwrap();
    assert_eq!(res.status(), 409);
    let events = a.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let expected = expect(
        AuditKind::LoginFailed,
        None,
        Some("bob"),
        Some("session_limit"),
    );
    check(&events[0], expected, since, &[&token]);
}

#[tokio::test]
async fn the_app_reports_failed_logins_with_its_reason() {
    let a = Audited::start(|layer| layer).await;
    let since = SystemTime::now();
    let res = a.server.post("/login-failed/mallory").send().await.unwrap();
    assert_eq!(res.status(), 401);
    // From a browser that has a session already, the event names it.
    let res = a.server.post("/set/theme/dark").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();
    let id = a.id(&token).await;
    a.server
        .post("/login-failed/alice")
        .session(&token)
        .send()
        .await
        .unwrap();
    let events = a.events().await;
    let kinds: Vec<AuditKind> = events.iter().map(|e| e.event).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::LoginFailed,
            AuditKind::SessionCreated,
            AuditKind::LoginFailed
        ]
    );
    let reason = Some("invalid_credentials");
    check(
        &events[0],
        expect(AuditKind::LoginFailed, None, Some("mallory"), reason),
        since,
        &[&token],
    );
    let expected = expect(AuditKind::LoginFailed, Some(&id), Some("alice"), reason);
    check(&events[2], expected, since, &[&token]);
}

#[tokio::test]
async fn an_expired_session_is_audited_once_with_the_deadline_it_passed() {
    let a = Audited::start(|layer| layer).await;
    let past = SystemTime::now() - Duration::from_secs(1);
    for (kind, patch) in [
        (
            AuditKind::ExpiredIdle,
            SessionPatch {
                idle_expires_at: Some(past),
                ..SessionPatch::default()
            },
        ),
        (
            AuditKind::ExpiredAbsolute,
            SessionPatch {
                expires_at: Some(past),
                ..SessionPatch::default()
            },
        ),
    ] {
        let (token, id) = a.login("alice").await;
        a.events().await;
        a.patch(&token, patch).await;
        let since = SystemTime::now();
        let res = a.server.get("/me").session(&token).send().await.unwrap();
        assert_eq!(res.status(), 401);
        // The first request deleted it: the next one presents an unknown token.
        let res = a.server.get("/me").session(&token).send().await.unwrap();
        assert_eq!(res.status(), 401);
        let events = a.events().await;
        assert_eq!(events.len(), 2, "{events:?}");
        check(
            &events[0],
            expect(kind, Some(&id), Some("alice"), None),
            since,
            &[&token],
        );
        let expected = expect(AuditKind::InvalidToken, None, None, Some("unknown"));
        check(&events[1], expected, since, &[&token]);
    }
}

#[tokio::test]
async fn an_invalid_token_is_audited_with_why_when_the_session_is_used() {
    let a = Audited::start(|layer| layer).await;
    let (token, _) = a.login("alice").await;
    let res = a
        .server
        .post("/logout")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    a.events().await;
    let since = SystemTime::now();
    // A token that was valid once, a malformed cookie, a malformed bearer token.
    let res = a
        .server
        .get("/get/theme")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = a
        .server
        .get("/get/theme")
        .session("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = a
        .server
        .get("/me")
        .bearer_auth("short")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // A route that never uses its session judges no token.
    let res = a
        .server
        .get("/untouched")
        .session("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = a.events().await;
    let reasons: Vec<_> = events
        .iter()
        .map(|e| (e.event, e.reason.as_deref()))
        .collect();
    let invalid = AuditKind::InvalidToken;
    assert_eq!(
        reasons,
        [
            (invalid, Some("unknown")),
            (invalid, Some("malformed")),
            (invalid, Some("malformed"))
        ]
    );
    for (event, reason) in events.iter().zip(["unknown", "malformed", "malformed"]) {
        check(
            event,
            expect(invalid, None, None, Some(reason)),
            since,
            &[&token],
        );
    }
}

#[tokio::test]
async fn the_ip_is_the_one_trusted_proxies_forwarded() {
    let proxies = "127.0.0.1".parse().unwrap();
    let a = Audited::start(|layer| layer.trusted_proxies(proxies)).await;
    let res = a
        .server
        .post("/login-failed/alice")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let events = a.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].ip, Some("203.0.113.9".parse().unwrap()));
}

#[test]
fn without_a_sink_the_trail_is_tracing_and_without_audit_there_is_none() {
    let layer = SessionLayer::new(MemoryStore::default());
    let trail = layer.config().audit().expect("the tracing trail");
    assert_eq!((trail.dropped(), trail.failed()), (0, 0));
    let layer = SessionLayer::new(MemoryStore::default()).without_audit();
    assert!(layer.config().audit().is_none());
}

#[tokio::test]
async fn auditing_adds_no_store_call_to_requests_that_cause_no_event() {
    let store = FlakyStore::wrap(MemoryStore::default());
    let recorder = Recorder::default();
    let layer = SessionLayer::new(store.clone()).audit(recorder.clone());
    let server = audit::serve(audit::routes::app().layer(layer)).await;
    let res = server.post("/set/theme/dark").send().await.unwrap();
    let token = set_cookie(res.headers()).unwrap();
    for (path, calls) in [("/untouched", 0), ("/get/theme", 1)] {
        let before = store.calls();
        let res = server.get(path).session(&token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(store.calls() - before, calls, "{path}");
    }
    let before = store.calls();
    let res = server
        .post("/set/lang/en")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(store.calls() - before, 2, "one read, one write");
}
