//! The near cache over a Redis Cluster: a RESP3 cluster connection of its own, with tracking
//! on at every master. The cluster connection replaces a lost node connection by itself, and
//! the new one has tracking off; so every heartbeat asks each master whether this
//! connection's tracking is on (`CLIENT TRACKINGINFO`) and whether it is still a master
//! (`ROLE`), and only a round in which all say yes and the set of masters is unchanged moves
//! the fence. Anything else empties the cache and
//! turns tracking on again everywhere before copies are served anew.

use std::sync::{Arc, PoisonError, Weak};
use std::time::{Duration, Instant};

use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{ProtocolVersion, Value};

use super::{publish, Pushes, Shared, Tracking};
use crate::error::StoreError;
use crate::store::redis::codec::text;
use crate::store::redis::conn::backend;
use crate::store::redis::{CONNECTION_TIMEOUT, RESPONSE_TIMEOUT};

/// A cluster connection over `nodes` whose pushes `shared` applies, tracking on at every
/// master (epoch 1).
pub(super) async fn open(
    nodes: &[String],
    name: &str,
    shared: Weak<Shared>,
) -> Result<ClusterConnection, StoreError> {
    let client = ClusterClientBuilder::new(nodes.to_vec())
        .use_protocol(ProtocolVersion::RESP3)
        .connection_timeout(CONNECTION_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        // The node connections come and go; their pushes apply to whichever epoch is current.
        .push_sender(Pushes {
            shared,
            epoch: None,
        })
        .build()
        .map_err(backend)?;
    let mut conn = client.get_async_connection().await.map_err(backend)?;
    track_everywhere(&mut conn, name).await?;
    Ok(conn)
}

/// `CLIENT SETNAME` and `CLIENT TRACKING ON NOLOOP` on every master.
async fn track_everywhere(conn: &mut ClusterConnection, name: &str) -> Result<(), StoreError> {
    let all = || RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
    let mut setname = redis::cmd("CLIENT");
    setname.arg("SETNAME").arg(name);
    conn.route_command(setname, all()).await.map_err(backend)?;
    let mut tracking = redis::cmd("CLIENT");
    tracking.arg("TRACKING").arg("ON").arg("NOLOOP");
    conn.route_command(tracking, all()).await.map_err(backend)?;
    Ok(())
}

/// What one heartbeat round found.
pub(super) enum Round {
    /// Every master answered with tracking on: the masters, sorted.
    Tracking(Vec<String>),
    /// A master has tracking off (its connection was replaced), or did not answer.
    Lost,
}

/// Asks every master (as this connection knows them) whether this connection's tracking is
/// on, and whether it is still a master: after a failover the connection may still route to
/// the demoted node for a while, which no longer takes the writes its copies depend on.
pub(super) async fn round(conn: &mut ClusterConnection) -> Round {
    let all = || RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
    let mut info = redis::cmd("CLIENT");
    info.arg("TRACKINGINFO");
    let Ok(Value::Map(replies)) = conn.route_command(info, all()).await else {
        return Round::Lost;
    };
    let mut masters = Vec::with_capacity(replies.len());
    for (address, reply) in replies {
        let (Some(address), true) = (text(address), tracking_on(reply)) else {
            return Round::Lost;
        };
        masters.push(address);
    }
    let Ok(Value::Map(roles)) = conn.route_command(redis::cmd("ROLE"), all()).await else {
        return Round::Lost;
    };
    let all_masters = roles.into_iter().all(|(_, role)| match role {
        Value::Array(fields) => fields
            .into_iter()
            .next()
            .and_then(text)
            .is_some_and(|role| role == "master"),
        _ => false,
    });
    if !all_masters {
        return Round::Lost;
    }
    masters.sort();
    Round::Tracking(masters)
}

/// Whether a `CLIENT TRACKINGINFO` reply says tracking is on.
fn tracking_on(reply: Value) -> bool {
    let pairs: Vec<(Value, Value)> = match reply {
        Value::Map(pairs) => pairs,
        Value::Array(items) => {
            let mut items = items.into_iter();
            std::iter::from_fn(|| Some((items.next()?, items.next()?))).collect()
        }
        _ => return false,
    };
    pairs.into_iter().any(|(field, flags)| {
        let flags = match flags {
            Value::Array(flags) | Value::Set(flags) => flags,
            _ => return false,
        };
        text(field).as_deref() == Some("flags")
            && flags.into_iter().any(|f| text(f).as_deref() == Some("on"))
    })
}

/// Applies a round sent at `sent` to the cache at `epoch`: a round that found tracking on at
/// the same masters as before moves the fence (`true`); anything else empties the cache.
fn judge(shared: &Shared, epoch: u64, sent: Instant, found: Round) -> bool {
    let mut masters = shared
        .masters
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    match found {
        Round::Tracking(now) if masters.as_ref().is_none_or(|m| *m == now) => {
            *masters = Some(now);
            let mut state = shared.state();
            if state.epoch() != epoch {
                return false;
            }
            state.ponged(epoch, sent);
            true
        }
        _ => {
            // Copies read through a node connection without tracking, or before a change of
            // masters, may be stale: all go.
            *masters = None;
            shared.state().disconnected(epoch);
            false
        }
    }
}

/// The heartbeat: a round every quarter of the bound. A bad one (see [`judge`]) empties the
/// cache, which serves nothing until tracking is on again everywhere and a later round
/// confirms it. Ends when the store is gone.
pub(super) async fn track(shared: Weak<Shared>, name: Arc<str>, mut conn: ClusterConnection) {
    let Some(bound) = shared.upgrade().map(|s| s.bound) else {
        return;
    };
    let mut ticker = tokio::time::interval((bound / 4).max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut epoch = 1;
    loop {
        ticker.tick().await;
        if shared.strong_count() == 0 {
            return;
        }
        let sent = Instant::now();
        let found = round(&mut conn).await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        if !judge(&strong, epoch, sent, found) && track_everywhere(&mut conn, &name).await.is_ok() {
            epoch += 1;
            publish(&strong, epoch, Tracking::Cluster(conn.clone()));
        }
    }
}

/// One round now: the fence moves to its send time if it finds tracking on at the same
/// masters; otherwise the cache is emptied (and the heartbeat turns tracking on again).
pub(super) async fn sync(shared: &Shared, epoch: u64, mut conn: ClusterConnection) {
    let sent = Instant::now();
    let found = round(&mut conn).await;
    judge(shared, epoch, sent, found);
}
