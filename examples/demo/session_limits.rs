//! The demo's session limits, from the environment: `SESSIONWARD_MAX_SESSIONS` (per user),
//! `SESSIONWARD_SESSION_OVERFLOW` (`evict` or `reject`) and `SESSIONWARD_MAX_TOTAL_SESSIONS`
//! (signed-in sessions in the whole store). Unset: no limit.

use sessionward::store::{Overflow, SessionStore};
use sessionward::SessionLayer;

/// `layer` with the limits the environment sets; a value that is not a positive whole number,
/// or an overflow other than `evict` or `reject`, stops the demo with status 2.
pub fn from_env<S: SessionStore>(layer: SessionLayer<S>) -> SessionLayer<S> {
    let overflow = match std::env::var("SESSIONWARD_SESSION_OVERFLOW").as_deref() {
        Err(_) | Ok("evict") => Overflow::EvictLeastRecentlyUsed,
        Ok("reject") => Overflow::Refuse,
        Ok(other) => {
            eprintln!("SESSIONWARD_SESSION_OVERFLOW={other:?} is not valid: evict or reject");
            std::process::exit(2);
        }
    };
    let mut layer = layer;
    if let Some(sessions) = positive("SESSIONWARD_MAX_SESSIONS") {
        layer = layer.max_sessions_per_user(sessions, overflow);
    }
    if let Some(sessions) = positive("SESSIONWARD_MAX_TOTAL_SESSIONS") {
        layer = layer.max_signed_in_sessions(sessions);
    }
    layer
}

fn positive(name: &str) -> Option<u32> {
    let text = std::env::var(name).ok()?;
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            eprintln!("{name}={text:?} is not valid: a whole number of sessions, at least 1");
            std::process::exit(2);
        }
    }
}
