//! The near cache over a standalone Redis: one tracking connection of its own, replaced
//! (tracking on again before it serves) whenever it fails.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};

use super::{publish, Pushes, Shared, Tracking, MAX_BACKOFF};
use crate::error::StoreError;
use crate::store::redis::conn::backend;
use crate::store::redis::{CONNECTION_TIMEOUT, RESPONSE_TIMEOUT};

/// The tracking connection speaks RESP3 (invalidations are pushes) whatever the store's own
/// connection does.
pub(super) fn resp3(client: &redis::Client) -> Result<redis::Client, StoreError> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings)).map_err(backend)
}

/// Opens a tracking connection for `epoch`: RESP3, pushes applied to `shared`, tracking on
/// before it is used for anything.
pub(super) async fn open(
    client: &redis::Client,
    name: &str,
    shared: Weak<Shared>,
    epoch: u64,
) -> Result<MultiplexedConnection, StoreError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_push_sender(Pushes {
            shared,
            epoch: Some(epoch),
        });
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(backend)?;
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query_async::<()>(&mut conn)
        .await
        .map_err(backend)?;
    redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        // This instance's own writes go through this connection and drop its copies
        // themselves: Redis need not echo them back.
        .arg("NOLOOP")
        .query_async::<()>(&mut conn)
        .await
        .map_err(backend)?;
    Ok(conn)
}

/// The heartbeat of the live connection, and a new connection whenever it is lost; ends when
/// the store is gone.
pub(super) async fn track(
    shared: Weak<Shared>,
    client: redis::Client,
    name: Arc<str>,
    first: MultiplexedConnection,
) {
    let mut epoch = 1;
    let mut conn = Some(first);
    let mut backoff = Duration::from_millis(50);
    loop {
        if let Some(live) = conn.take() {
            backoff = Duration::from_millis(50);
            heartbeat(&shared, live, epoch).await;
            let Some(strong) = shared.upgrade() else {
                return;
            };
            strong.state().disconnected(epoch);
            *strong.conn() = None;
        }
        epoch += 1;
        match open(&client, &name, shared.clone(), epoch).await {
            Ok(live) => {
                let Some(strong) = shared.upgrade() else {
                    return;
                };
                publish(&strong, epoch, Tracking::Standalone(live.clone()));
                conn = Some(live);
            }
            Err(_) => {
                if shared.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// PINGs `conn` every quarter of the bound, moving the fence on each PONG; returns when the
/// connection fails, is judged dead, or the store is gone.
async fn heartbeat(shared: &Weak<Shared>, mut conn: MultiplexedConnection, epoch: u64) {
    let Some(bound) = shared.upgrade().map(|s| s.bound) else {
        return;
    };
    let mut ticker = tokio::time::interval((bound / 4).max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match shared.upgrade() {
            Some(strong) if strong.state().epoch() == epoch => {}
            // Gone, or a disconnection push already ended this connection.
            _ => return,
        }
        let sent = Instant::now();
        let pong = redis::cmd("PING").query_async::<Value>(&mut conn).await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        match pong {
            Ok(_) => strong.state().ponged(epoch, sent),
            Err(_) => return,
        }
    }
}

/// One PING round trip on `conn`: the fence moves to its send time, or the connection is
/// judged dead.
pub(super) async fn sync(shared: &Shared, epoch: u64, mut conn: MultiplexedConnection) {
    let sent = Instant::now();
    match redis::cmd("PING").query_async::<Value>(&mut conn).await {
        Ok(_) => shared.state().ponged(epoch, sent),
        Err(_) => shared.state().disconnected(epoch),
    }
}
