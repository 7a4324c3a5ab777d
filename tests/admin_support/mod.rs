//! Shared by the admin suites: the demo served with its admin routes, sign-ins, listings, and
//! a reader for server-sent events. Each suite declares `mod common;` and the demo as
//! `mod demo;` at its root, as the demo suites do.
#![allow(dead_code)] // each suite uses a different subset

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use sessionward::audit::TracingAudit;
use sessionward::store::{conformance, SessionRecord, SessionStore};
use sessionward::token::TokenHash;

use crate::common::{header, serve, set_cookie, Server, WithSession};
use crate::demo;

/// The remote secret the suites configure.
pub const SECRET: &str = "remote-secret-for-the-admin-tests";

/// The demo over `store` with its admin routes, and its remote routes when `secret` is given.
pub async fn demo_server<S: SessionStore + Clone>(store: S, secret: Option<&str>) -> Server {
    demo_server_and_trail(store, secret).await.0
}

/// [`demo_server`], and its audit trail (the dashboard's live feed): a test flushes it before
/// it opens the feed, so that the events of its setup are not mistaken for later ones.
pub async fn demo_server_and_trail<S: SessionStore + Clone>(
    store: S,
    secret: Option<&str>,
) -> (Server, demo::audit::Trail) {
    // The demo's wiring: one audit trail for the layer and the admin routes.
    let trail = demo::audit::Trail::to(TracingAudit::default());
    let app = demo::with_admin(
        demo::app(),
        store.clone(),
        secret,
        &trail,
        std::future::pending(),
    )
    .expect("a long secret");
    let layer = demo::session_layer(store).audit_through(trail.handle.clone());
    (serve(app.layer(layer)).await, trail)
}

/// Signs `user` in (a demo user) and returns the session token.
pub async fn login(server: &Server, user: &str) -> String {
    let password = match user {
        "alice" => "wonderland",
        "bob" => "builder",
        "admin" => "admin-demo",
        other => panic!("no demo user {other}"),
    };
    let res = server
        .post("/login")
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login {user}");
    set_cookie(res.headers()).expect("login sets the cookie")
}

/// Whether `token` still opens a signed-in session.
pub async fn signed_in(server: &Server, token: &str) -> bool {
    let res = server.get("/api/me").session(token).send().await.unwrap();
    match res.status().as_u16() {
        200 => true,
        401 => false,
        other => panic!("GET /api/me: {other}"),
    }
}

/// The public id of `token`'s session.
pub async fn session_id(server: &Server, token: &str) -> String {
    let res = server.get("/api/me").session(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    me["session_id"].as_str().unwrap().to_owned()
}

/// `GET /admin/sessions?QUERY` as the admin: the JSON page.
pub async fn list(server: &Server, admin: &str, query: &str) -> Value {
    let res = server
        .get(&format!("/admin/sessions?{query}"))
        .session(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{query}");
    res.json().await.unwrap()
}

/// The ids of a JSON page, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `POST` to an admin route with a JSON body, as the admin.
pub async fn admin_post(
    server: &Server,
    admin: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    server
        .post(path)
        .session(admin)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Puts a session straight into `store`, created `age` ago, after `edit`: for states and
/// contents a login cannot make (an expired session, a hostile user agent).
pub async fn insert<S: SessionStore>(
    store: &S,
    user: Option<&str>,
    age: Duration,
    edit: impl FnOnce(&mut SessionRecord),
) -> (TokenHash, SessionRecord) {
    let (key, mut record) = conformance::sample(user, age);
    edit(&mut record);
    store.create(&key, record.clone()).await.expect("create");
    (key, record)
}

/// Ends `record` a minute ago: an expired session not yet purged.
pub fn expire(record: &mut SessionRecord) {
    let past = SystemTime::now() - Duration::from_secs(60);
    record.expires_at = past;
    record.idle_expires_at = past;
}

/// Reads a server-sent event stream, one event at a time.
pub struct Events {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

/// One server-sent event: its type (`None` for the default) and its data.
#[derive(Debug)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Events {
    /// Opens `GET /admin/events` as `admin`, once its headers are in (the server subscribes
    /// before it sends them, so nothing after this is missed).
    pub async fn open(server: &Server, admin: &str) -> Self {
        let res = server
            .get("/admin/events")
            .session(admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response: res,
            buffer: Vec::new(),
        }
    }

    /// The next event (comments, such as keep-alives, skipped).
    pub async fn next(&mut self) -> Event {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("UTF-8 events");
                let mut event = Event {
                    name: None,
                    data: String::new(),
                };
                let mut has_data = false;
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event.name = Some(name.trim().to_owned());
                    } else if let Some(data) = line.strip_prefix("data:") {
                        if has_data {
                            event.data.push('\n');
                        }
                        event.data.push_str(data.strip_prefix(' ').unwrap_or(data));
                        has_data = true;
                    }
                }
                if has_data {
                    return event;
                }
                continue;
            }
            let chunk = self
                .response
                .chunk()
                .await
                .expect("the event stream failed")
                .expect("the event stream ended");
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// Reads events until one satisfies `want`, and returns it.
    pub async fn until(&mut self, want: impl Fn(&Event) -> bool) -> Event {
        loop {
            let event = self.next().await;
            if want(&event) {
                return event;
            }
        }
    }
}

/// Every admin route, as (method, path); `{id}` is replaced by a real session id.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin"),
    ("GET", "/admin/events"),
    ("GET", "/admin/sessions"),
    ("GET", "/admin/sessions?state=all&format=csv"),
    ("GET", "/admin/stats"),
    ("POST", "/admin/sessions/{id}/revoke"),
    ("POST", "/admin/users/bob/revoke"),
    ("POST", "/admin/users/bob/keep"),
];

pub fn request(server: &Server, method: &str, path: &str) -> reqwest::RequestBuilder {
    match method {
        "GET" => server.get(path),
        _ => server.post(path).json(&json!({})),
    }
}

pub async fn error_of(res: reqwest::Response) -> String {
    assert_eq!(
        header(res.headers(), "content-type").as_deref(),
        Some("application/json")
    );
    let body: Value = res.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

/// Every admin route answers 401 (with the `Bearer` challenge) to an anonymous caller and 403
/// to `non_admin`'s token; `id` is a session id for the routes that take one.
pub async fn outsiders_are_refused_everywhere(server: &Server, id: &str, non_admin: &str) {
    for (method, path) in ROUTES {
        let path = path.replace("{id}", id);
        let res = request(server, method, &path).send().await.unwrap();
        assert_eq!(res.status(), 401, "{method} {path} anonymous");
        assert_eq!(
            header(res.headers(), "www-authenticate").as_deref(),
            Some("Bearer")
        );
        assert_eq!(error_of(res).await, "unauthenticated", "{method} {path}");

        let res = request(server, method, &path)
            .session(non_admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{method} {path} as a non-admin");
        assert_eq!(error_of(res).await, "forbidden", "{method} {path}");
    }
}

/// The admin API end to end over `store`, for the suites of each backend: listing and paging,
/// CSV, stats, keep, revoke one, revoke a user, and the remote routes; 401 and 403 for
/// outsiders on every route; each ended token is refused. `store` must hold no other session.
pub async fn runs_on<S: SessionStore + Clone>(store: S) {
    let server = demo_server(store, Some(SECRET)).await;
    let admin = login(&server, "admin").await;
    let alices = [login(&server, "alice").await, login(&server, "alice").await];
    let bobs = [login(&server, "bob").await, login(&server, "bob").await];
    let bobs_id = session_id(&server, &bobs[0]).await;
    outsiders_are_refused_everywhere(&server, &bobs_id, &alices[0]).await;

    let everyone = ids(&list(&server, &admin, "state=all").await);
    assert_eq!(everyone.len(), 5);
    let mut paged = Vec::new();
    for offset in [0, 2, 4] {
        paged.extend(ids(&list(
            &server,
            &admin,
            &format!("limit=2&offset={offset}"),
        )
        .await));
    }
    assert_eq!(
        paged, everyone,
        "pages cover every session once, newest first"
    );
    // Two logins in one millisecond tie on a store that keeps milliseconds: compare as sets.
    let mut alice_ids = ids(&list(&server, &admin, "user=alice").await);
    alice_ids.sort();
    let mut expected = vec![
        session_id(&server, &alices[0]).await,
        session_id(&server, &alices[1]).await,
    ];
    expected.sort();
    assert_eq!(alice_ids, expected);
    let csv = server
        .get("/admin/sessions?format=csv&state=all")
        .session(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows = csv::Reader::from_reader(csv.as_bytes()).records().count();
    assert_eq!(rows, 5);
    let stats: Value = server
        .get("/admin/stats")
        .session(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats, json!({"active": 5, "users": 3}));

    let kept = session_id(&server, &alices[1]).await;
    let res = admin_post(
        &server,
        &admin,
        "/admin/users/alice/keep",
        json!({"session_id": kept}),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"kept": kept, "revoked": 1}));
    assert!(!signed_in(&server, &alices[0]).await);
    assert!(signed_in(&server, &alices[1]).await);
    let res = admin_post(&server, &admin, "/admin/users/alice/keep", json!({})).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"kept": kept, "revoked": 0}),
        "the only one is the newest"
    );

    let id = session_id(&server, &bobs[0]).await;
    let res = admin_post(
        &server,
        &admin,
        &format!("/admin/sessions/{id}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert!(!signed_in(&server, &bobs[0]).await);
    let res = admin_post(&server, &admin, "/admin/users/bob/revoke", json!({})).await;
    assert_eq!(res.status(), 204);
    assert!(!signed_in(&server, &bobs[1]).await);

    let res = server
        .post("/remote/users/alice/revoke")
        .header("x-sessionward-secret", SECRET)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"revoked": 1}));
    assert!(!signed_in(&server, &alices[1]).await);
    let stats: Value = server
        .get("/admin/stats")
        .session(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats, json!({"active": 1, "users": 1}));
}
