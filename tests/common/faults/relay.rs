//! A TCP relay between a store and its real server, cut and restored on the same port while
//! the server keeps its data: a real connection failure at the moment a test chooses.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sessionward::store::conformance::sample;
use sessionward::store::SessionStore;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;

/// A TCP relay from a loopback port to `upstream` that can be cut and restored on the same port.
pub struct Relay {
    addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl Relay {
    /// A relay to the server of `url` (`scheme://[user@]host[:port][/…]`, `default_port` when
    /// none is given), and `url` rewritten to reach it through the relay.
    pub async fn to(url: &str, default_port: u16) -> (Self, String) {
        let upstream = socket_of(url, default_port);
        let relay = Self::start(upstream).await;
        let host_port = format!("{}:{}", upstream.ip(), upstream.port());
        let mut relayed = url.replacen(&host_port, &relay.addr.to_string(), 1);
        if relayed == url {
            relayed = url.replacen("localhost", &relay.addr.to_string(), 1);
        }
        assert_ne!(relayed, url, "cannot route {url} through the relay");
        (relay, relayed)
    }

    pub async fn start(upstream: SocketAddr) -> Self {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let relay = Self {
            addr,
            upstream,
            tasks: Arc::default(),
        };
        relay.open();
        relay
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, JoinSet<()>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Accepts connections again, on the same port.
    pub fn open(&self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.addr).unwrap();
        let listener = socket.listen(64).unwrap();
        let (upstream, tasks) = (self.upstream, Arc::clone(&self.tasks));
        self.tasks().spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                tasks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
            }
        });
    }

    /// Drops every relayed connection and refuses new ones: the server is gone. Returns once
    /// the listener is closed, so [`open`](Self::open) can take its port again at once.
    pub async fn cut(&self) {
        loop {
            // A connection the listener accepted while the set was taken lands in the new set.
            let mut tasks = std::mem::take(&mut *self.tasks());
            if tasks.is_empty() {
                return;
            }
            tasks.shutdown().await;
        }
    }
}

fn socket_of(url: &str, default_port: u16) -> SocketAddr {
    let rest = url.split("://").nth(1).unwrap();
    let host_port = rest.split(['/', '?']).next().unwrap();
    let host_port = host_port.rsplit('@').next().unwrap();
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().unwrap()),
        None => (host_port, default_port),
    };
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}").parse().unwrap()
}

/// Waits until `store` answers a load again (its connection re-established after a cut): a
/// recovery poll, bounded to 20 s.
pub async fn until_answers<S: SessionStore>(store: &S) {
    let (probe, _) = sample(None, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match store.load(&probe).await {
            Ok(_) => return,
            Err(err) => assert!(
                Instant::now() < deadline,
                "the store did not answer again within 20 s: {err}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
