//! The load: clients of the demo on loopback, each with a session of its own, writing an
//! increasing counter (`PUT /api/prefs {"seq": n}`) and reading it back (`GET /api/prefs`,
//! `GET /api/me`) one request at a time until told to stop. A client writes again only once a
//! 2xx read has shown its last acknowledged write, so every acknowledged write is checked
//! before the next one could overwrite it. Every answer is kept, classified, with when it was
//! sent and how long it took; each client knows the last value a 2xx acknowledged and the
//! last one it attempted.

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::common::{header, session_set_cookie, Server, WithSession, COOKIE};

/// A request that gets no answer within this is a failure (the slowest expected answer is a
/// SQL pool's 3 s checkout timeout).
const REQUEST_GUARD: Duration = Duration::from_secs(15);

/// What a client asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Put,
    GetPrefs,
    Me,
    Logout,
}

/// How an answer is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 2xx, with the body the route promises (and a logout's cleared cookie).
    Ok,
    /// 503 `{"error":"session_store_unavailable"}` as JSON, the cookie neither set nor cleared.
    Unavailable,
    /// Anything else: a 401, another status or body, a cookie set or cleared, no answer.
    Other,
}

/// One answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub client: usize,
    pub route: Route,
    pub sent: Instant,
    pub took: Duration,
    pub kind: Kind,
    /// For [`Kind::Other`]: what was wrong.
    pub note: String,
}

impl Answer {
    pub fn answered(&self) -> Instant {
        self.sent + self.took
    }
}

/// A client's session and writes, as it ends.
#[derive(Clone, Debug)]
pub struct ClientEnd {
    pub id: usize,
    pub token: String,
    pub session_id: String,
    /// Told to log out once the store is back.
    pub leaves: bool,
    /// Its logout was answered 2xx.
    pub logged_out: bool,
    /// The last `seq` a 2xx acknowledged (0: none).
    pub acked: u64,
    /// The last `seq` it sent.
    pub attempted: u64,
    /// Reads that showed less than an acknowledged write: a lost write, seen live.
    pub regressions: Vec<String>,
}

/// The clients, running.
pub struct Load {
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: watch::Sender<bool>,
    back: watch::Sender<Option<Instant>>,
    tasks: JoinSet<ClientEnd>,
    clients: usize,
    leavers: usize,
}

impl Load {
    /// Signs in `clients` sessions on `server` and starts their loops; the last `leavers` of
    /// them log out once the store is back ([`store_is_back`](Self::store_is_back)) and they
    /// had a 2xx since.
    pub async fn start(server: &Server, clients: usize, leavers: usize) -> Self {
        let answers = Arc::default();
        let (stop, _) = watch::channel(false);
        let (back, _) = watch::channel(None);
        let mut tasks = JoinSet::new();
        for id in 0..clients {
            let (token, session_id) = server
                .demo_login_from("alice", "wonderland", &format!("load client {id}"))
                .await;
            let client = Client {
                server: Server {
                    base: server.base.clone(),
                    client: server.client.clone(),
                },
                answers: Arc::clone(&answers),
                end: ClientEnd {
                    id,
                    token,
                    session_id,
                    leaves: id >= clients - leavers,
                    logged_out: false,
                    acked: 0,
                    attempted: 0,
                    regressions: Vec::new(),
                },
            };
            tasks.spawn(client.run(stop.subscribe(), back.subscribe()));
        }
        Self {
            answers,
            stop,
            back,
            tasks,
            clients,
            leavers,
        }
    }

    /// The clients that keep their session to the end.
    pub fn stayers(&self) -> Range<usize> {
        0..self.clients - self.leavers
    }

    /// The clients that log out once the store is back.
    pub fn leavers(&self) -> Range<usize> {
        self.clients - self.leavers..self.clients
    }

    /// Every answer so far.
    pub fn answers(&self) -> MutexGuard<'_, Vec<Answer>> {
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The first answer that was neither a 2xx nor the store's 503, if any.
    pub fn first_other(&self) -> Option<Answer> {
        self.answers()
            .iter()
            .find(|a| a.kind == Kind::Other)
            .cloned()
    }

    /// Whether each of `clients` has at least `n` answers matching `matches`.
    pub fn each(&self, clients: Range<usize>, n: usize, matches: impl Fn(&Answer) -> bool) -> bool {
        let mut counts = vec![0; self.clients];
        for answer in self.answers().iter().filter(|a| matches(a)) {
            counts[answer.client] += 1;
        }
        counts[clients].iter().all(|&count| count >= n)
    }

    /// Whether every client has at least `n` answers matching `matches`.
    pub fn every_client(&self, n: usize, matches: impl Fn(&Answer) -> bool) -> bool {
        self.each(0..self.clients, n, matches)
    }

    /// Tells the leaving clients that the store is back since `at`.
    pub fn store_is_back(&self, at: Instant) {
        self.back.send_replace(Some(at));
    }

    /// Stops the clients after their current request; returns how each ended, and every
    /// answer.
    pub async fn stop(mut self) -> (Vec<ClientEnd>, Vec<Answer>) {
        self.stop.send_replace(true);
        let mut ends = Vec::new();
        while let Some(end) = tokio::time::timeout(REQUEST_GUARD * 2, self.tasks.join_next())
            .await
            .expect("the clients stop after their current request")
        {
            ends.push(end.expect("a client task"));
        }
        ends.sort_by_key(|end| end.id);
        let answers = std::mem::take(&mut *self.answers());
        (ends, answers)
    }
}

struct Client {
    server: Server,
    answers: Arc<Mutex<Vec<Answer>>>,
    end: ClientEnd,
}

impl Client {
    async fn run(
        mut self,
        stop: watch::Receiver<bool>,
        back: watch::Receiver<Option<Instant>>,
    ) -> ClientEnd {
        let mut last_ok_sent = None;
        // Whether a 2xx read has shown the last acknowledged write: until then the client
        // writes nothing more, so a lost write cannot be hidden by the next one.
        let mut confirmed = true;
        while !*stop.borrow() {
            let back_at = *back.borrow();
            if self.end.leaves && back_at.is_some_and(|at| last_ok_sent >= Some(at)) {
                self.log_out(&stop).await;
                break;
            }
            if confirmed {
                let seq = self.end.attempted + 1;
                self.end.attempted = seq;
                let put = self.server.put("/api/prefs").json(&json!({ "seq": seq }));
                let (kind, sent, _) = self.ask(Route::Put, put).await;
                if kind == Kind::Ok {
                    self.end.acked = seq;
                    confirmed = false;
                    last_ok_sent = Some(sent);
                }
            }
            let get = self.server.get("/api/prefs");
            if let (Kind::Ok, sent, body) = self.ask(Route::GetPrefs, get).await {
                last_ok_sent = Some(sent);
                confirmed = true;
                let read = body["seq"].as_u64().unwrap_or(0);
                if read < self.end.acked {
                    self.end.regressions.push(format!(
                        "read seq {read} after seq {} was acknowledged",
                        self.end.acked
                    ));
                }
            }
            if let (Kind::Ok, sent, _) = self.ask(Route::Me, self.server.get("/api/me")).await {
                last_ok_sent = Some(sent);
            }
        }
        self.end
    }

    /// Logs out, again after each 503, until a 2xx (or the load stops).
    async fn log_out(&mut self, stop: &watch::Receiver<bool>) {
        while !*stop.borrow() {
            let (kind, _, _) = self.ask(Route::Logout, self.server.post("/logout")).await;
            if kind == Kind::Ok {
                self.end.logged_out = true;
                return;
            }
        }
    }

    /// Sends `request` with the client's session, records the answer, and returns how it was
    /// judged, when it was sent and its JSON body (`Null` without one).
    async fn ask(&mut self, route: Route, request: RequestBuilder) -> (Kind, Instant, Value) {
        let request = request.session(&self.end.token);
        let sent = Instant::now();
        let (kind, note, body) = match tokio::time::timeout(REQUEST_GUARD, request.send()).await {
            Err(_) => (
                Kind::Other,
                format!("no answer within {REQUEST_GUARD:?}"),
                Value::Null,
            ),
            Ok(Err(err)) => (Kind::Other, format!("request failed: {err}"), Value::Null),
            Ok(Ok(res)) => self.judge(route, res).await,
        };
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Answer {
                client: self.end.id,
                route,
                sent,
                took: sent.elapsed(),
                kind,
                note,
            });
        (kind, sent, body)
    }

    async fn judge(&self, route: Route, res: reqwest::Response) -> (Kind, String, Value) {
        let status = res.status().as_u16();
        let cookie = session_set_cookie(res.headers());
        let json = header(res.headers(), "content-type").as_deref() == Some("application/json");
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let other = |why: &str| {
            let cookie = cookie.as_deref().unwrap_or("none");
            let why = format!("{route:?}: {why}: {status} {body} (Set-Cookie: {cookie})");
            (Kind::Other, why, Value::Null)
        };
        if status == 503 {
            if !json || body != json!({"error": "session_store_unavailable"}) {
                return other("a 503 other than session_store_unavailable");
            }
            if cookie.is_some() {
                return other("a 503 that sets or clears the cookie");
            }
            return (Kind::Unavailable, String::new(), body);
        }
        if !(200..300).contains(&status) {
            return other("neither 2xx nor 503");
        }
        let as_promised = match route {
            // A logout clears the cookie; nothing else touches it.
            Route::Logout => cookie
                .as_deref()
                .is_some_and(|line| line.split(';').next() == Some(&format!("{COOKIE}="))),
            _ if cookie.is_some() => false,
            Route::Put => true,
            Route::GetPrefs => body["seq"].as_u64().is_some(),
            Route::Me => {
                body["user"] == "alice" && body["session_id"].as_str() == Some(&self.end.session_id)
            }
        };
        if !as_promised {
            return other("not the answer the route promises");
        }
        (Kind::Ok, String::new(), body)
    }
}
