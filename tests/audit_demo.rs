//! The demo's audit trail as a process (docs/demo-http.md): with `SESSIONWARD_AUDIT_LOG` it
//! appends JSON lines to that file, failed logins included, and has written every event when
//! it stops; without it, audit events are log lines. Every step waits for a log line, a
//! response or the exit, never for a time.
//!
//! The binary is the demo `cargo test` builds next to the tests; with `--test audit_demo`
//! alone, run `cargo build --example demo` (same features and profile) first.
#![cfg(unix)]

mod cookie_value;
mod process_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// Far beyond what the demo needs: only a line or answer that never comes runs into it.
const PATIENCE: Duration = Duration::from_secs(60);

fn demo_exe() -> PathBuf {
    process_support::example_exe("demo")
}

/// A running demo; killed when dropped.
struct Demo {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    addr: String,
}

impl Demo {
    fn start(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(demo_exe())
            .env("PORT", "0")
            .env("SESSIONWARD_STORE", "memory")
            .env("RUST_LOG", "info")
            .env_remove("SESSIONWARD_AUDIT_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Self {
            child,
            lines,
            seen: Vec::new(),
            addr: String::new(),
        };
        let listening = demo.wait_for("sessionward demo listening on http://");
        demo.addr = listening.split("http://").nth(1).unwrap().trim().to_owned();
        demo
    }

    fn wait_for(&mut self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) if line.contains(text) => {
                    self.seen.push(line.clone());
                    return line;
                }
                Ok(line) => self.seen.push(line),
                Err(err) => panic!("no line with {text:?} ({err:?}); output: {:#?}", self.seen),
            }
        }
    }

    /// Sends one request and returns the whole response (head and body).
    fn send(&self, method: &str, path: &str, cookie: Option<&str>, body: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let cookie = cookie.map_or(String::new(), |t| format!("Cookie: __Host-session={t}\r\n"));
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: audit-demo-test\r\n{cookie}\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    /// Stops the demo with SIGTERM and waits until it has exited.
    fn stop(&mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}; output: {:#?}", self.seen);
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The session cookie a response sets.
fn cookie(response: &str) -> String {
    let line = response
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: __host-session=")
        })
        .unwrap_or_else(|| panic!("no session cookie in {response}"));
    let value = &line["set-cookie: __Host-session=".len()..];
    value.split(';').next().unwrap().to_owned()
}

fn status(response: &str) -> &str {
    response.split(' ').nth(1).unwrap()
}

#[test]
fn with_sessionward_audit_log_the_trail_is_appended_to_the_file_as_json_lines() {
    let path = std::env::temp_dir().join(format!("sessionward-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    // A line already there stays: the demo appends.
    std::fs::write(&path, "{\"event\":\"earlier\"}\n").unwrap();
    let mut demo = Demo::start(&[("SESSIONWARD_AUDIT_LOG", path.to_str().unwrap())]);
    let wrong = r#"{"username":"alice","password":"wrong"}"#;
    assert_eq!(status(&demo.send("POST", "/login", None, wrong)), "401");
    let right = r#"{"username":"alice","password":"wonderland"}"#;
    let response = demo.send("POST", "/login", None, right);
    assert_eq!(status(&response), "200");
    let token = cookie(&response);
    assert_eq!(
        status(&demo.send("POST", "/logout", Some(&token), "")),
        "204"
    );
    demo.stop();

    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(!text.contains(&token), "the token in the audit log: {text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        ["earlier", "login_failed", "login", "logout"],
        "{text}"
    );
    let failed = &lines[1];
    assert_eq!(failed["user"], "alice");
    assert_eq!(failed["reason"], "invalid_credentials");
    assert_eq!(failed["ip"], "127.0.0.1");
    assert_eq!(failed["user_agent"], "audit-demo-test");
    assert_eq!(lines[2]["user"], "alice");
    assert!(lines[2]["session_id"].is_string());
    assert_eq!(lines[2]["session_id"], lines[3]["session_id"]);
}

#[test]
fn without_it_audit_events_are_log_lines() {
    let mut demo = Demo::start(&[]);
    let wrong = r#"{"username":"bob","password":"wrong"}"#;
    assert_eq!(status(&demo.send("POST", "/login", None, wrong)), "401");
    let line = demo.wait_for("event=\"login_failed\"");
    assert!(line.contains("sessionward::audit"), "{line}");
    assert!(line.contains("user=\"bob\""), "{line}");
    assert!(line.contains("reason=\"invalid_credentials\""), "{line}");
}

#[test]
fn an_audit_log_it_cannot_open_stops_it_with_status_2() {
    let dir = std::env::temp_dir().join(format!("sessionward-no-dir-{}", std::process::id()));
    let path = dir.join("missing").join("audit.jsonl");
    let output = Command::new(demo_exe())
        .env("PORT", "0")
        .env("SESSIONWARD_STORE", "memory")
        .env("SESSIONWARD_AUDIT_LOG", &path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SESSIONWARD_AUDIT_LOG"), "{stderr}");
}

#[test]
fn no_token_or_token_hash_appears_in_the_logs() {
    // Debug: the most the demo logs of its own (routine audit events included).
    let mut demo = Demo::start(&[("RUST_LOG", "debug")]);
    let prefs = demo.send("PUT", "/api/prefs", None, r#"{"theme":"dark"}"#);
    assert_eq!(status(&prefs), "204");
    let anonymous = cookie(&prefs);
    let right = r#"{"username":"alice","password":"wonderland"}"#;
    let login = demo.send("POST", "/login", Some(&anonymous), right);
    assert_eq!(status(&login), "200");
    let token = cookie(&login);
    assert_eq!(
        status(&demo.send("GET", "/api/me", Some(&token), "")),
        "200"
    );
    assert_eq!(
        status(&demo.send("POST", "/logout", Some(&token), "")),
        "204"
    );
    // Refused tokens are logged (audited) too: a dead one and a malformed one.
    assert_eq!(
        status(&demo.send("GET", "/api/me", Some(&token), "")),
        "401"
    );
    assert_eq!(status(&demo.send("GET", "/api/me", Some("x"), "")), "401");
    demo.stop();
    // Everything it printed: the lines read so far and the rest, up to its end of output.
    let mut output = std::mem::take(&mut demo.seen);
    output.extend(demo.lines.iter());
    let output = output.join("\n");
    assert!(output.contains("event=\"logout\""), "{output}");
    for token in [&anonymous, &token] {
        let hash = cookie_value::opaque_token(token).hash().to_hex();
        assert!(
            !output.contains(token.as_str()),
            "a token in the logs: {output}"
        );
        assert!(
            !output.contains(&hash),
            "a token hash in the logs: {output}"
        );
    }
}
