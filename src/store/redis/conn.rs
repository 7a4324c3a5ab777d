//! One connection type over standalone Redis and Redis Cluster, and `SCAN` over every master.

use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::codec::{bytes, text};
use crate::error::StoreError;

/// A standalone connection (a manager that reconnects by itself) or a cluster connection (which
/// follows the topology and reconnects to nodes by itself). Both are cheap to clone and
/// multiplex every clone's commands over the same sockets.
#[derive(Clone)]
pub(super) enum Conn {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
    /// A standalone store's near-cache connection (RESP3, tracking on, `NOLOOP`), which
    /// carries the store's commands while it is up (all but the creation of a session): this
    /// instance's own writes then cause no invalidation pushes to itself.
    Tracked(MultiplexedConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Standalone(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Tracked(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Standalone(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Tracked(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Standalone(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Tracked(c) => c.get_db(),
        }
    }
}

/// Wraps a Redis error (connection, timeout, server error) as a backend failure.
pub(super) fn backend(err: redis::RedisError) -> StoreError {
    StoreError::backend(err)
}

/// A reply that does not have the shape a command or script returns.
pub(super) fn unexpected(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unexpected reply from Redis to {what}"))
}

/// Keys matching a pattern, in batches, from every node that holds data: the server itself, or
/// each master of a cluster (each with its own cursor).
///
/// `SCAN` guarantees every key present for the whole scan is returned at least once; a key may
/// come twice, and one created or deleted meanwhile may or may not come. On a cluster, slots
/// that migrate during the scan can be missed or seen twice.
pub(super) struct Scan {
    pattern: String,
    /// Nodes still to scan, with their cursor; `None` before the first round.
    nodes: Option<Vec<(Node, u64)>>,
}

#[derive(Clone)]
enum Node {
    Standalone,
    Cluster { host: String, port: u16 },
}

/// Keys asked for per `SCAN` call.
const SCAN_COUNT: usize = 500;

impl Scan {
    pub(super) fn new(pattern: String) -> Self {
        Self {
            pattern,
            nodes: None,
        }
    }

    /// The next batch of keys (possibly empty), or `None` when every node is done.
    pub(super) async fn next(
        &mut self,
        conn: &mut Conn,
    ) -> Result<Option<Vec<Vec<u8>>>, StoreError> {
        let Some(nodes) = &mut self.nodes else {
            // First round: cursor 0 everywhere.
            let (nodes, keys) = match conn {
                Conn::Standalone(_) | Conn::Tracked(_) => {
                    let reply = command(&self.pattern, 0)
                        .query_async(conn)
                        .await
                        .map_err(backend)?;
                    let (cursor, keys) = scan_reply(reply)?;
                    (vec![(Node::Standalone, cursor)], keys)
                }
                Conn::Cluster(c) => {
                    // Sent to every master at once; the reply maps each node's address to its
                    // answer, which names the nodes to continue with.
                    let routing =
                        RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                    let reply = c
                        .route_command(command(&self.pattern, 0), routing)
                        .await
                        .map_err(backend)?;
                    let Value::Map(replies) = reply else {
                        return Err(unexpected("SCAN on every master"));
                    };
                    let mut nodes = Vec::new();
                    let mut keys = Vec::new();
                    for (address, reply) in replies {
                        let address =
                            text(address).ok_or_else(|| unexpected("SCAN on every master"))?;
                        let (host, port) = address
                            .rsplit_once(':')
                            .and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)))
                            .ok_or_else(|| unexpected("SCAN on every master"))?;
                        let (cursor, batch) = scan_reply(reply)?;
                        nodes.push((Node::Cluster { host, port }, cursor));
                        keys.extend(batch);
                    }
                    (nodes, keys)
                }
            };
            self.nodes = Some(nodes.into_iter().filter(|(_, c)| *c != 0).collect());
            return Ok(Some(keys));
        };
        let Some((node, cursor)) = nodes.pop() else {
            return Ok(None);
        };
        let cmd = command(&self.pattern, cursor);
        let reply = match (&node, conn) {
            (Node::Standalone, conn) => cmd.query_async(conn).await,
            (Node::Cluster { host, port }, Conn::Cluster(c)) => {
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                c.route_command(cmd, routing).await
            }
            (Node::Cluster { .. }, Conn::Standalone(_) | Conn::Tracked(_)) => {
                return Err(unexpected("SCAN (cluster node on a standalone connection)"))
            }
        }
        .map_err(backend)?;
        let (cursor, keys) = scan_reply(reply)?;
        if cursor != 0 {
            nodes.push((node, cursor));
        }
        Ok(Some(keys))
    }
}

fn command(pattern: &str, cursor: u64) -> Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(SCAN_COUNT);
    cmd
}

/// `[cursor, [key…]]`.
fn scan_reply(reply: Value) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
    let bad = || unexpected("SCAN");
    let reply = match reply {
        Value::ServerError(err) => {
            return Err(StoreError::backend(redis::RedisError::from(err)));
        }
        Value::Array(items) => items,
        _ => return Err(bad()),
    };
    let mut items = reply.into_iter();
    let (Some(cursor), Some(Value::Array(keys)), None) = (items.next(), items.next(), items.next())
    else {
        return Err(bad());
    };
    let cursor = match cursor {
        Value::Int(n) => u64::try_from(n).ok(),
        other => text(other).and_then(|t| t.parse().ok()),
    }
    .ok_or_else(bad)?;
    let keys = keys
        .into_iter()
        .map(bytes)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok((cursor, keys))
}
