//! A TCP relay between a store and its real server, cut and restored on the same port while
//! the server keeps its data: a real connection failure at the moment a test chooses. Or
//! stalled and resumed: every connection stays open and nothing is forwarded either way, as
//! with a server that hangs or a network that silently drops everything (no FIN, no RST, no
//! answer).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sessionward::store::conformance::sample;
use sessionward::store::SessionStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A TCP relay from a loopback port to `upstream` that can be cut and restored on the same
/// port, or stalled and resumed.
pub struct Relay {
    addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<JoinSet<()>>>,
    /// Shared with every connection, so that they outlive the `Relay` value as before.
    stalled: Arc<watch::Sender<bool>>,
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
            stalled: Arc::new(watch::Sender::new(false)),
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
        let stalled = Arc::clone(&self.stalled);
        self.tasks().spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                tasks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .spawn(relay(client, upstream, Arc::clone(&stalled)));
            }
        });
    }

    /// From now on nothing more is forwarded either way, and nothing is closed: a connection
    /// made meanwhile is accepted and gets no answer either. Bytes on their way wait in the
    /// relay and the sockets' buffers until [`resume`](Self::resume).
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Forwards again what waited during a [`stall`](Self::stall), then everything as before.
    pub fn resume(&self) {
        self.stalled.send_replace(false);
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

/// Relays one connection until either side closes it, forwarding nothing while stalled.
async fn relay(client: TcpStream, upstream: SocketAddr, stall: Arc<watch::Sender<bool>>) {
    let mut stalled = stall.subscribe();
    // A hung server accepts connections and answers nothing: the relayed connection is made
    // once it answers again (a client that gave up by then is closed at once).
    if !flowing(&mut stalled).await {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Either side closing closes both.
    tokio::select! {
        () = pump(client_read, server_write, stall.subscribe()) => {}
        () = pump(server_read, client_write, stall.subscribe()) => {}
    }
}

/// Copies `from` to `to` until either closes; while stalled it reads nothing, and holds what
/// it had read.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut stalled: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !flowing(&mut stalled).await {
            return;
        }
        let n = tokio::select! {
            biased;
            now_stalled = stalled.wait_for(|stalled| *stalled) => {
                if now_stalled.is_err() {
                    return;
                }
                continue;
            }
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
        };
        if !flowing(&mut stalled).await || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Waits until the relay is not stalled; `false` once the relay is gone.
async fn flowing(stalled: &mut watch::Receiver<bool>) -> bool {
    stalled.wait_for(|stalled| !*stalled).await.is_ok()
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
