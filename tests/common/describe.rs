//! Reading a session's own times through the `/describe` route, to assert on its deadlines
//! rather than on how long a test took.

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
