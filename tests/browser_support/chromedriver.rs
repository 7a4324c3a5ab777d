//! chromedriver as a process: the one `SESSIONWARD_TEST_BROWSER` names (Debian's
//! `/usr/bin/chromedriver` under `CI=true`), started on a free loopback port, driving the
//! installed Chromium. It and every browser it starts are killed when it is dropped, also after
//! a failed test.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::wait::{self, PATIENCE};
use crate::servers::Suite;

/// The browser: Debian's Chromium, which Debian's chromedriver is built for. Never a browser
/// downloaded at run time.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Tells apart the profile folders of the drivers one test binary starts.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// A running chromedriver.
pub struct ChromeDriver {
    child: Child,
    url: String,
    /// The browsers' profiles (`--user-data-dir`), one fresh folder each; removed on drop.
    profiles: PathBuf,
    next_profile: AtomicUsize,
    /// Everything chromedriver printed, for a failure's message.
    output: Arc<Mutex<Vec<String>>>,
}

impl ChromeDriver {
    /// Starts chromedriver and waits until it answers `GET /status` as ready.
    ///
    /// # Panics
    /// When the suite is not configured, chromedriver or Chromium is missing, or chromedriver
    /// does not come up: under `CI=true` a missing browser fails the tests.
    pub async fn start() -> Self {
        let exe = Suite::Browser.value();
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} is missing: install Debian's browser and its driver \
             (apt-get install chromium chromium-driver)"
        );
        // Its panic as this test's own, message and all.
        let (child, port, output) = tokio::task::spawn_blocking(move || launch(&exe))
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
        let profiles = std::env::temp_dir().join(format!(
            "sessionward-browser-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        // Made only once there is a driver whose drop removes it again.
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profiles,
            next_profile: AtomicUsize::new(0),
            output,
        };
        // A folder left by an earlier process with the same id is no one's any more.
        let _ = std::fs::remove_dir_all(&driver.profiles);
        std::fs::create_dir_all(&driver.profiles)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", driver.profiles.display()));
        driver.wait_until_ready().await;
        driver
    }

    /// Where the WebDriver API answers.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new, empty profile folder: a browser started with it shares nothing with the others.
    pub fn fresh_profile(&self) -> PathBuf {
        let n = self.next_profile.fetch_add(1, Ordering::Relaxed);
        let dir = self.profiles.join(format!("profile-{n}"));
        std::fs::create_dir(&dir)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
        dir
    }

    /// What chromedriver printed so far.
    pub fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    async fn wait_until_ready(&self) {
        let http = reqwest::Client::new();
        let status = format!("{}/status", self.url);
        wait::until("chromedriver to answer /status as ready", || async {
            let answer: serde_json::Value = http.get(&status).send().await?.json().await?;
            let ready = answer["value"]["ready"].as_bool() == Some(true);
            Ok::<_, reqwest::Error>(ready.then_some(()))
        })
        .await;
    }
}

/// Starts `exe` on a port of its choosing (`--port=0`: no race for a free one) and reads the
/// port from its "started successfully" line. Its output goes on being read, so that it never
/// blocks on a full pipe.
fn launch(exe: &str) -> (Child, u16, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new(exe)
        .arg("--port=0")
        // A process group of its own, which its browsers join: dropping the driver kills them
        // all, even when a failed test never closed its browsers.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot start {exe}: {err}; install Debian's chromium-driver or set {} \
                 to a chromedriver",
                Suite::Browser.var()
            )
        });
    let stdout = child.stdout.take().expect("a piped stdout");
    let output = Arc::new(Mutex::new(Vec::new()));
    let (send, lines) = mpsc::channel();
    let seen = Arc::clone(&output);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            seen.lock().unwrap().push(line.clone());
            // The receiver is gone once the port is known; the lines are still kept above.
            let _ = send.send(line);
        }
    });
    const STARTED_ON: &str = "started successfully on port ";
    loop {
        match lines.recv_timeout(PATIENCE) {
            Ok(line) => {
                if let Some((_, port)) = line.split_once(STARTED_ON) {
                    let port = port.trim().trim_end_matches('.');
                    let port = port.parse().unwrap_or_else(|_| panic!("a port: {line:?}"));
                    return (child, port, output);
                }
            }
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{exe} did not say which port it listens on ({err:?}); output: {:#?}",
                    output.lock().unwrap()
                );
            }
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started (their crash
        // handlers, in sessions of their own, exit with them).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profiles);
    }
}
