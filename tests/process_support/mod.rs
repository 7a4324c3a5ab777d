//! Examples run as processes: the binaries `cargo test` builds next to the tests
//! (`target/<profile>/examples/NAME`), their output read line by line. Every wait is for a
//! line or an exit, never for a time.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// Far beyond what any example needs: only a line that never comes runs into it.
const PATIENCE: Duration = Duration::from_secs(60);

/// The example `name` built for this test run's profile.
pub fn example_exe(name: &str) -> PathBuf {
    let test_exe = std::env::current_exe().unwrap();
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps");
    let exe = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        exe.is_file(),
        "{} is missing: `cargo test` builds it; with `--test` alone, run `cargo build \
         --examples` (same features and profile) first",
        exe.display()
    );
    exe
}

/// A running example; killed when dropped.
pub struct Process {
    child: Child,
    lines: Receiver<String>,
    /// Every line printed so far.
    pub seen: Vec<String>,
}

impl Process {
    /// Starts example `name` with `args` and `env` on top of this process's environment.
    pub fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let exe = example_exe(name);
        let mut child = Command::new(&exe)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", exe.display()));
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
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Starts the demo on a free port with the memory store and `env` on top, waits until it
    /// listens, and returns it with its base URL.
    pub fn demo(env: &[(&str, &str)]) -> (Self, String) {
        let mut all = vec![
            ("PORT", "0"),
            ("SESSIONWARD_STORE", "memory"),
            ("RUST_LOG", "info"),
        ];
        all.extend_from_slice(env);
        let mut demo = Self::start("demo", &[], &all);
        let line = demo.wait_for("sessionward demo listening on http://");
        let url = format!("http://{}", line.split("http://").nth(1).unwrap().trim());
        (demo, url)
    }

    /// Reads the output up to the first line containing `text`, and returns it.
    pub fn wait_for(&mut self, text: &str) -> String {
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

    /// Waits for the exit, reading the rest of the output into [`seen`](Self::seen).
    pub fn exit(&mut self) -> ExitStatus {
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.seen.push(line);
        }
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
