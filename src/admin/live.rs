//! `GET /events`: the dashboard's live feed, as server-sent events. Each value the app sends on
//! its broadcast channel becomes an event (the default `message` type) whose `data` is the
//! value in JSON, followed by a `stats` event (`{"active": n, "users": m}`) counted afresh; a
//! `stats` event also opens the stream and follows every quiet interval.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::future::{self, BoxFuture, FutureExt, Shared};
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::MissedTickBehavior;

use super::{stats, Admin};

/// The app's events, each as JSON text; `None` when some were missed (a slow reader).
type Items = BoxStream<'static, Option<String>>;

/// The app's shutdown signal, awaited by every event stream.
pub(crate) type Shutdown = Shared<BoxFuture<'static, ()>>;

/// A source of the app's events, of any serializable type.
pub(crate) struct Feed(Box<dyn Fn() -> Items + Send + Sync>);

impl Feed {
    pub(crate) fn new<E>(sender: broadcast::Sender<E>) -> Self
    where
        E: Serialize + Clone + Send + 'static,
    {
        // Weak: the admin router must not keep the app's channel open once the app drops it.
        let sender = sender.downgrade();
        Self(Box::new(move || match sender.upgrade() {
            Some(sender) => receive(sender.subscribe()),
            None => stream::empty().boxed(),
        }))
    }
}

fn receive<E>(receiver: broadcast::Receiver<E>) -> Items
where
    E: Serialize + Clone + Send + 'static,
{
    stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => match serde_json::to_string(&event) {
                    Ok(json) => return Some((Some(json), receiver)),
                    Err(err) => tracing::warn!("admin event not serializable: {err}"),
                },
                Err(RecvError::Lagged(_)) => return Some((None, receiver)),
                Err(RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}

/// What makes the stream send: an app event, missed events, or the quiet interval.
enum Trigger {
    Event(String),
    Missed,
    Tick,
}

/// `GET /events`.
pub(crate) async fn events(
    State(admin): State<Arc<Admin>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before the answer's headers go out: an event after them is never missed.
    let feed = match &admin.feed {
        Some(feed) => (feed.0)(),
        None => stream::empty().boxed(),
    };
    let mut ticks = tokio::time::interval(admin.stats_every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is at once: the stream opens with the stats.
    let ticks = stream::unfold(ticks, |mut ticks| async move {
        ticks.tick().await;
        Some((Trigger::Tick, ticks))
    });
    let feed = feed.map(|item| item.map_or(Trigger::Missed, Trigger::Event));
    let shutdown = match &admin.shutdown {
        Some(signal) => signal.clone().boxed(),
        None => future::pending().boxed(),
    };
    let events = stream::select(feed, ticks)
        .then(move |trigger| {
            let admin = Arc::clone(&admin);
            async move {
                let mut out = Vec::with_capacity(2);
                match trigger {
                    Trigger::Event(json) => out.push(Event::default().data(json)),
                    Trigger::Missed | Trigger::Tick => {}
                }
                match stats::current(&admin).await {
                    Ok(stats) => out.push(Event::default().event("stats").data(stats.to_string())),
                    Err(err) => tracing::warn!("admin stats failed: {err}"),
                }
                stream::iter(out.into_iter().map(Ok))
            }
        })
        .flatten()
        .take_until(shutdown);
    Sse::new(events).keep_alive(KeepAlive::default())
}
