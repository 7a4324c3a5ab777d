//! Who sent the request: what a new session records of its origin, and what audit events say.

use http::HeaderValue;

use crate::client_ip::ClientAddr;

/// Where a request came from, for listings and the audit trail.
pub(crate) struct ClientInfo {
    pub(crate) user_agent: Option<HeaderValue>,
    pub(crate) addr: ClientAddr,
}

impl ClientInfo {
    /// The `User-Agent`, as text and at most 256 characters, as sessions and events keep it.
    pub(super) fn user_agent_text(&self) -> Option<String> {
        self.user_agent_str().map(str::to_owned)
    }

    /// [`user_agent_text`](Self::user_agent_text), borrowed from the request.
    pub(super) fn user_agent_str(&self) -> Option<&str> {
        let text = self.user_agent.as_ref()?.to_str().ok()?;
        // `to_str` admits only visible ASCII, one byte a character: 256 characters are the
        // first 256 bytes.
        Some(text.get(..256).unwrap_or(text))
    }
}
