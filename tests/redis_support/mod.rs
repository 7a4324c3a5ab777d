//! Real Redis servers for the Redis store tests: the standalone server named by
//! `SESSIONWARD_TEST_REDIS`, and a three-master Redis Cluster this module starts on free loopback
//! ports (and stops again, also when a test fails).
//!
//! Which server, and whether to start a cluster at all, is `servers::Suite`'s business
//! (`Suite::Redis`, `Suite::RedisCluster`): each test file that declares this module also
//! declares `mod servers`, and puts `#[allow(dead_code)]` on this one, as each uses a different
//! subset.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::servers::Suite;

/// The standalone server's URL.
pub fn standalone_url() -> String {
    Suite::Redis.value()
}

/// Where the cluster's nodes go, from `SESSIONWARD_TEST_REDIS_CLUSTER`: `None` for free ports
/// found here (`1`), `Some(base)` for `base`, `base + 1`, `base + 2`.
///
/// # Panics
/// On any other value.
pub fn cluster_ports() -> Option<u16> {
    let value = Suite::RedisCluster.value();
    match value.trim() {
        "1" | "true" | "yes" | "auto" => None,
        base => match base.parse::<u16>() {
            Ok(base) if (1024..=55_530).contains(&base) => Some(base),
            _ => panic!(
                "SESSIONWARD_TEST_REDIS_CLUSTER must be 1 or a base port in 1024..=55530, got {base:?}"
            ),
        },
    }
}

/// A key prefix no other test or run uses.
pub fn unique_prefix(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("sessionward-test:{tag}:{}-{nanos}:", std::process::id())
}

/// A store on the standalone server under a fresh prefix.
pub async fn standalone_store(tag: &str) -> sessionward::store::RedisStore {
    let url = standalone_url();
    let store = sessionward::store::RedisStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot reach the Redis at {url}: {err}"));
    store.with_prefix(unique_prefix(tag))
}

/// A cluster started for the caller, and a store on it under a fresh prefix. Keep the
/// cluster: it stops when dropped.
pub async fn cluster_store(tag: &str) -> (Cluster, sessionward::store::RedisStore) {
    let cluster = Cluster::start(cluster_ports());
    let urls = cluster.urls();
    let store = sessionward::store::RedisStore::connect_cluster(&urls)
        .await
        .unwrap_or_else(|err| panic!("cannot reach the cluster at {urls:?}: {err}"));
    (cluster, store.with_prefix(unique_prefix(tag)))
}

/// A three-master Redis Cluster on loopback (with a replica per master, if asked), stopped
/// when dropped.
pub struct Cluster {
    ports: Vec<u16>,
    dir: PathBuf,
}

impl Cluster {
    /// Starts the nodes, creates the cluster and waits until every node reports
    /// `cluster_state:ok`.
    ///
    /// # Panics
    /// If a node or the cluster cannot be started (after stopping what was started).
    pub fn start(base: Option<u16>) -> Self {
        Self::start_nodes(base, 0)
    }

    /// As [`start`](Self::start), with one replica per master (six nodes): for failovers.
    pub fn start_with_replicas(base: Option<u16>) -> Self {
        Self::start_nodes(base, 1)
    }

    fn start_nodes(base: Option<u16>, replicas: u16) -> Self {
        let count = 3 * (1 + replicas);
        let base = base.unwrap_or_else(|| free_base(count));
        let dir = std::env::temp_dir().join(format!(
            "sessionward-redis-cluster-{}-{base}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster's directory");
        // From here on, dropping `cluster` (also while a panic unwinds) stops the nodes.
        let cluster = Self {
            ports: (base..base + count).collect(),
            dir,
        };
        for &port in &cluster.ports {
            cluster.start_node(port);
        }
        for &port in &cluster.ports {
            cluster.wait_for(port, &["ping"], Duration::from_secs(10), |out| {
                out.contains("PONG")
            });
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for port in &cluster.ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        create.args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"]);
        let out = run(&mut create);
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for &port in &cluster.ports {
            cluster.wait_for(port, &["cluster", "info"], Duration::from_secs(30), |out| {
                out.contains("cluster_state:ok")
            });
        }
        cluster
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// The nodes' ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Runs `redis-cli -p port args…` and returns its standard output.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = run(Command::new("redis-cli")
            .arg("-p")
            .arg(port.to_string())
            .args(args));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Freezes every node (`SIGSTOP`): connections stay open but nothing answers, as when a
    /// server hangs or the network drops packets. The data stays.
    pub fn pause(&self) {
        self.signal_nodes("-STOP");
    }

    /// Lets paused nodes run again (`SIGCONT`).
    pub fn resume(&self) {
        self.signal_nodes("-CONT");
    }

    fn signal_nodes(&self, signal: &str) {
        for &port in &self.ports {
            let pid = read_pid(&self.dir.join(format!("redis.pid-{port}")))
                .unwrap_or_else(|| panic!("no pid file for the node on port {port}"));
            let out = run(Command::new("kill").arg(signal).arg(pid.to_string()));
            assert!(out.status.success(), "kill {signal} {pid} failed");
        }
    }

    fn start_node(&self, port: u16) {
        let file = |name: &str| {
            self.dir
                .join(format!("{name}-{port}"))
                .display()
                .to_string()
        };
        let out = run(Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", &file("nodes")])
            .args(["--cluster-node-timeout", "5000"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "yes"])
            .args(["--dir", &self.dir.display().to_string()])
            .args(["--pidfile", &file("redis.pid")])
            .args(["--logfile", &file("redis.log")]));
        assert!(
            out.status.success(),
            "redis-server on port {port} did not start:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Polls `redis-cli -p port args…` until `ok` accepts its output.
    fn wait_for(&self, port: u16, args: &[&str], limit: Duration, ok: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let out = self.cli(port, args);
            if ok(&out) {
                return;
            }
            if start.elapsed() > limit {
                let log = std::fs::read_to_string(self.dir.join(format!("redis.log-{port}")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                panic!(
                    "Redis node on port {port}: `{}` not as expected within {limit:?}; last answer:\n{out}\nlog tail:\n{}",
                    args.join(" "),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A node left paused by a failed test would never answer SHUTDOWN.
        for &port in &self.ports {
            if let Some(pid) = read_pid(&self.dir.join(format!("redis.pid-{port}"))) {
                let _ = Command::new("kill")
                    .args(["-CONT", &pid.to_string()])
                    .output();
            }
        }
        for &port in &self.ports {
            let _ = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "shutdown", "nosave"])
                .output();
            // Should the node ignore SHUTDOWN, end it by the id it wrote itself.
            if let Some(pid) = read_pid(&self.dir.join(format!("redis.pid-{port}"))) {
                let deadline = Instant::now() + Duration::from_secs(5);
                while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = Command::new("kill").arg(pid.to_string()).output();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|err| panic!("cannot run {cmd:?} (is Redis installed?): {err}"))
}

/// A base port `p` such that `p`, `p + 1`, `p + 2` and their cluster bus ports (`+ 10000`) are
/// free on loopback now.
fn free_base(count: u16) -> u16 {
    let seed = std::process::id() as u64
        ^ SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos() as u64;
    for attempt in 0..200u64 {
        let base = 20_000 + ((seed + attempt * 7_919) % 9_000) as u16;
        let free = (0..count).all(|i| {
            TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                && TcpListener::bind(("127.0.0.1", base + i + 10_000)).is_ok()
        });
        if free {
            return base;
        }
    }
    panic!("no {count} free loopback ports (and bus ports) found for a Redis Cluster");
}
