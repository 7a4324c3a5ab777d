//! The demo as a process (docs/demo-http.md): started on a free port with its stdout piped, it
//! logs without colour codes, and on SIGTERM or Ctrl-C answers the requests in flight, says so
//! and exits cleanly; a second signal stops it at once. Every step waits for a log line or a
//! response, never for a time.
//!
//! The binary is the demo that `cargo test` builds next to the tests
//! (`target/<profile>/examples/demo`). `cargo test --test demo_process` alone does not build
//! examples: run `cargo build --example demo` (with the same features and profile) first.
#![cfg(unix)]

mod process_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// How long to wait for a line or a response: far beyond what the demo needs, so only one that
/// never comes runs into it.
const PATIENCE: Duration = Duration::from_secs(60);

const LOGIN: &[u8] = br#"{"username":"alice","password":"wonderland"}"#;

fn demo_exe() -> PathBuf {
    process_support::example_exe("demo")
}

/// A running demo. Dropping it kills the process if it is still running.
struct Demo {
    child: Child,
    lines: Receiver<String>,
    /// Every line printed so far.
    seen: Vec<String>,
    /// `127.0.0.1:PORT`, from its "listening" line.
    addr: String,
}

impl Demo {
    /// Starts the demo on a free port and waits until it listens.
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the demo on a free port with `env` on top, and waits until it listens.
    fn start_with(env: &[(&str, &str)]) -> Self {
        let mut demo = Self::spawn(env, Stdio::inherit());
        let listening = demo.wait_for("sessionward demo listening on http://");
        demo.addr = listening.split("http://").nth(1).unwrap().trim().to_owned();
        demo
    }

    /// Starts the demo on a free port with the memory store, and `env` on top.
    fn spawn(env: &[(&str, &str)], stderr: Stdio) -> Self {
        let exe = demo_exe();
        let mut child = Command::new(&exe)
            .env("PORT", "0")
            .env("SESSIONWARD_STORE", "memory")
            .env("RUST_LOG", "info")
            // Colour must be off because stdout is a pipe, not because of `NO_COLOR`.
            .env_remove("NO_COLOR")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", exe.display()));
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            // Ends at end of file: the demo has exited.
            while matches!(stdout.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                if send
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
                line.clear();
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            addr: String::new(),
        }
    }

    /// Reads the demo's output up to the first line containing `text`, and returns it.
    fn wait_for(&mut self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(err) => panic!("no line with {text:?} ({err:?}); output: {:#?}", self.seen),
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}: {status}");
    }

    /// Reads the rest of the output, then the exit status.
    fn exit(&mut self) -> ExitStatus {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("still running; output: {:#?}", self.seen)
                }
            }
        }
        self.child.wait().unwrap()
    }

    fn assert_no_colour(&self) {
        assert!(
            self.seen.iter().all(|line| !line.contains("\x1b[")),
            "ANSI codes in a pipe: {:#?}",
            self.seen
        );
    }

    /// Starts `POST /login` and stops once the server is reading its body: the request is in
    /// flight until [`finish_login`] sends the body.
    fn start_login(&self) -> TcpStream {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        write!(
            stream,
            "POST /login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            self.addr,
            LOGIN.len()
        )
        .unwrap();
        // The server answers `100 Continue` when the handler starts reading the body.
        let interim = read_head(&mut stream);
        assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
        stream
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a response head, up to and including the blank line.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Sends the body of a request [`Demo::start_login`] began, and reads the whole response
/// (the request asked for the connection to be closed after it).
fn finish_login(mut stream: TcpStream) -> std::io::Result<String> {
    stream.write_all(LOGIN)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

#[test]
fn sigterm_answers_the_requests_in_flight_then_stops() {
    let mut demo = Demo::start();
    let in_flight = demo.start_login();
    demo.signal("TERM");
    demo.wait_for("shutting down (SIGTERM)");
    // Only now does the request in flight get its body, so it is answered after the signal.
    let response = finish_login(in_flight).expect("the request in flight is answered");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains(r#""user":"alice""#), "{response}");
    demo.wait_for("stopped");
    let status = demo.exit();
    assert!(status.success(), "{status}; output: {:#?}", demo.seen);
    demo.assert_no_colour();
}

#[test]
fn ctrl_c_stops_it_too() {
    let mut demo = Demo::start();
    demo.signal("INT");
    demo.wait_for("shutting down (Ctrl-C)");
    demo.wait_for("stopped");
    let status = demo.exit();
    assert!(status.success(), "{status}; output: {:#?}", demo.seen);
    demo.assert_no_colour();
}

#[test]
fn a_second_signal_stops_it_without_waiting() {
    let mut demo = Demo::start();
    let in_flight = demo.start_login();
    demo.signal("TERM");
    demo.wait_for("shutting down (SIGTERM)");
    demo.signal("INT");
    demo.wait_for("Ctrl-C again: stopping without waiting for requests in flight");
    let status = demo.exit();
    assert_eq!(status.code(), Some(1), "output: {:#?}", demo.seen);
    assert!(
        !demo.seen.iter().any(|line| line.contains("stopped")),
        "{:#?}",
        demo.seen
    );
    // The request that was still in flight is cut off.
    let cut = finish_login(in_flight).unwrap_or_default();
    assert!(!cut.contains("200 OK"), "{cut}");
    demo.assert_no_colour();
}

#[test]
fn a_setting_it_cannot_use_exits_with_status_2_and_says_why() {
    for (name, value) in [
        ("PORT", "http"),
        ("SESSIONWARD_IDLE_TIMEOUT", "0"),
        ("SESSIONWARD_ABSOLUTE_TIMEOUT", "-5"),
        ("SESSIONWARD_STORE", "mongodb://localhost"),
        ("SESSIONWARD_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example"),
        ("SESSIONWARD_MAX_SESSIONS", "0"),
        ("SESSIONWARD_SESSION_OVERFLOW", "drop-oldest"),
        ("SESSIONWARD_MAX_TOTAL_SESSIONS", "many"),
        ("SESSIONWARD_RETENTION", "a day"),
        ("SESSIONWARD_REMOTE_SECRET", "too short"),
    ] {
        let mut demo = Demo::spawn(&[(name, value)], Stdio::piped());
        let status = demo.exit();
        let mut stderr = String::new();
        demo.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(2), "{name}={value}: {stderr}");
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}={value}: {stderr}");
    }
}

#[test]
fn the_session_cap_variables_reach_the_layer() {
    // A single-session server: the second login is refused while the first session lives.
    let demo = Demo::start_with(&[("SESSIONWARD_MAX_TOTAL_SESSIONS", "1")]);
    let first = finish_login(demo.start_login()).unwrap();
    assert!(first.starts_with("HTTP/1.1 200 OK"), "{first}");
    let second = finish_login(demo.start_login()).unwrap();
    assert!(second.starts_with("HTTP/1.1 409 Conflict"), "{second}");
    assert!(second.contains(r#"{"error":"session_limit"}"#), "{second}");

    // Per user, refusing: the same, since the demo has one user per name.
    let demo = Demo::start_with(&[
        ("SESSIONWARD_MAX_SESSIONS", "1"),
        ("SESSIONWARD_SESSION_OVERFLOW", "reject"),
    ]);
    let first = finish_login(demo.start_login()).unwrap();
    assert!(first.starts_with("HTTP/1.1 200 OK"), "{first}");
    let second = finish_login(demo.start_login()).unwrap();
    assert!(second.starts_with("HTTP/1.1 409 Conflict"), "{second}");

    // Per user, evicting (the default overflow): every login succeeds.
    let demo = Demo::start_with(&[("SESSIONWARD_MAX_SESSIONS", "1")]);
    for _ in 0..2 {
        let login = finish_login(demo.start_login()).unwrap();
        assert!(login.starts_with("HTTP/1.1 200 OK"), "{login}");
    }
}

#[test]
fn retention_on_or_off_serves_logins() {
    for retention in ["0", "3600"] {
        let demo = Demo::start_with(&[("SESSIONWARD_RETENTION", retention)]);
        let login = finish_login(demo.start_login()).unwrap();
        assert!(login.starts_with("HTTP/1.1 200 OK"), "{retention}: {login}");
    }
}

/// Sends `POST path` with an empty JSON body and `headers`, and reads the whole response.
fn post(addr: &str, path: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\n{headers}Connection: close\r\n\r\n{{}}"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn the_demo_refuses_cross_origin_requests_before_any_route() {
    let demo = Demo::start();
    for headers in [
        "Sec-Fetch-Site: cross-site\r\n".to_owned(),
        "Origin: https://evil.example\r\n".to_owned(),
    ] {
        let answer = post(&demo.addr, "/login", &headers);
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden"), "{answer}");
        assert!(answer.ends_with(r#"{"error":"csrf"}"#), "{answer}");
    }
    // The same request from the demo's own origin reaches the route (and fails on its body).
    let own = format!(
        "Origin: http://{}\r\nSec-Fetch-Site: same-origin\r\n",
        demo.addr
    );
    let answer = post(&demo.addr, "/login", &own);
    assert!(!answer.contains("csrf"), "{answer}");
}

#[test]
fn the_remote_secret_variable_enables_the_remote_routes() {
    let path = "/remote/users/alice/revoke";
    let demo = Demo::start();
    let answer = post(
        &demo.addr,
        path,
        "X-Sessionward-Secret: a-secret-of-the-demo\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 404 Not Found"), "{answer}");

    let demo = Demo::start_with(&[("SESSIONWARD_REMOTE_SECRET", "a-secret-of-the-demo")]);
    let answer = post(
        &demo.addr,
        path,
        "X-Sessionward-Secret: a-secret-of-the-demo\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with(r#"{"revoked":0}"#), "{answer}");
    let answer = post(&demo.addr, path, "X-Sessionward-Secret: not-the-secret\r\n");
    assert!(answer.starts_with("HTTP/1.1 403 Forbidden"), "{answer}");
}

#[test]
fn an_open_admin_dashboard_does_not_hold_up_the_shutdown() {
    let mut demo = Demo::start();
    let body = r#"{"username":"admin","password":"admin-demo"}"#;
    let mut login = TcpStream::connect(&demo.addr).unwrap();
    login.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        login,
        "POST /login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        demo.addr,
        body.len()
    )
    .unwrap();
    let head = read_head(&mut login);
    let cookie = head
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .and_then(|line| line.split(';').next())
        .unwrap_or_else(|| panic!("no cookie: {head}"))
        .to_owned();
    let mut events = TcpStream::connect(&demo.addr).unwrap();
    events.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        events,
        "GET /admin/events HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\r\n",
        demo.addr
    )
    .unwrap();
    let head = read_head(&mut events);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    demo.signal("TERM");
    demo.wait_for("stopped");
    let status = demo.exit();
    assert!(status.success(), "{status}; output: {:#?}", demo.seen);
    // The stream was ended, not cut: it reads to its end.
    let mut rest = Vec::new();
    events.read_to_end(&mut rest).unwrap();
}
