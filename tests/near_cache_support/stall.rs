//! A TCP relay that can stall: it stops forwarding in both directions while keeping every
//! connection open, as a silent network partition does (no FIN, no RST, no answer).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A relay from a loopback port to a server; [`stall`](Self::stall) freezes it for good.
pub struct Stall {
    stalled: watch::Sender<bool>,
}

impl Stall {
    /// A relay to the server of `url` (`redis://host:port…`), and `url` rewritten to reach
    /// it through the relay.
    pub async fn to(url: &str) -> (Self, String) {
        let rest = url.split("://").nth(1).unwrap();
        let host_port = rest.split(['/', '?']).next().unwrap();
        let upstream: SocketAddr = host_port
            .replace("localhost", "127.0.0.1")
            .parse()
            .unwrap_or_else(|_| panic!("{url}: the relay needs host:port"));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relayed = url.replacen(host_port, &listener.local_addr().unwrap().to_string(), 1);
        let (stalled, watch) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, watch.clone()));
                tokio::spawn(pump(server_read, client_write, watch.clone()));
            }
        });
        (Self { stalled }, relayed)
    }

    /// From now on nothing more is forwarded either way, and nothing is closed.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }
}

/// Copies `from` to `to` until either closes, or forever nothing once stalled (the sockets
/// stay open: the halves are kept alive by this task).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            biased;
            _ = stalled.wait_for(|s| *s) => break,
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
        };
        if *stalled.borrow() || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    // Stalled: hold both halves open, forwarding nothing, until the test's runtime ends.
    std::future::pending::<()>().await;
    drop((from, to));
}
