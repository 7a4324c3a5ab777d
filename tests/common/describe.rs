//! Reading a session's own times through the `/describe` route, to assert on its deadlines
//! rather than on how long a test took.

use super::wait::{now_ms, sleep_past};
use super::{Server, WithSession};

impl Server {
    /// The session `token` names, as `/describe` reports it (times in ms since the Unix epoch).
    pub async fn describe(&self, token: &str) -> serde_json::Value {
        let res = self.get("/describe").session(token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

/// A time field of a `/describe` answer, in ms.
pub fn ms(described: &serde_json::Value, field: &str) -> u64 {
    described[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {described}"))
}

/// Asserts that `t` lies in `window` (both ends included): the span in which the test saw one
/// request happen.
pub fn assert_within(t: u64, window: (u64, u64), what: &str) {
    assert!(
        window.0 <= t && t <= window.1,
        "{what}: {t} not within {window:?}"
    );
}

/// Requests on one session spaced so that each writes a renewal: each goes out at least the
/// renewal interval after the previous one was answered. `window` is when the test saw the
/// previous request happen (sent, answered), so the next `/describe` can check it was recorded.
pub struct Renewing {
    pub window: (u64, u64),
    renewal_ms: u64,
}

impl Renewing {
    /// Starts after a request (a login) the test saw happen within `window`.
    pub fn after(window: (u64, u64), idle_timeout_ms: u64) -> Self {
        Self {
            window,
            // The layer's renewal interval: min(60 s, idle timeout / 4).
            renewal_ms: (idle_timeout_ms / 4).min(60_000),
        }
    }

    /// Waits out the renewal interval and returns the time the next request goes out at.
    pub async fn wait(&self) -> u64 {
        sleep_past(self.window.1 + self.renewal_ms).await;
        now_ms()
    }

    /// Sends `request` (the caller has waited) and notes when it happened.
    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let before = now_ms();
        let res = request.send().await.unwrap();
        self.window = (before, now_ms());
        res
    }

    /// Describes the session `token` names (the caller has waited); while it exists, checks
    /// that the previous request was recorded as its last activity.
    pub async fn describe(&mut self, server: &Server, token: &str) -> serde_json::Value {
        let previous = self.window;
        let res = self.send(server.get("/describe").session(token)).await;
        assert_eq!(res.status(), 200);
        let got: serde_json::Value = res.json().await.unwrap();
        if !got["id"].is_null() {
            let last_seen = ms(&got, "record_last_seen_at");
            assert_within(
                last_seen,
                previous,
                "the previous request renewed the session",
            );
        }
        got
    }
}
