//! Key names: one hash tag per key, chosen so that every atomic step touches one slot.

use crate::token::{SessionId, TokenHash};

/// Suffix of a session record key, `<prefix>{<id>}:s`.
const RECORD_SUFFIX: &str = "}:s";
/// Suffix of a token index key, `<prefix>{<token-hash-hex>}:t`.
const TOKEN_SUFFIX: &str = "}:t";
/// Suffix of a user index key, `<prefix>{u:<user>}:sessions`.
const USER_SUFFIX: &str = "}:sessions";
/// What a user index key's hash tag starts with.
const USER_TAG: &str = "{u:";

/// The key names of one store, all under one prefix.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    prefix: String,
}

/// What a key found by `SCAN` holds.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A session record, with its public id.
    Record(SessionId),
    /// A user index, with the user's name.
    User(String),
    /// A token index, or a key this store did not write.
    Other,
}

impl Keys {
    /// Key names under `prefix`.
    ///
    /// # Panics
    /// If `prefix` contains `{` or `}`: a brace in the prefix would become the hash tag and put
    /// every key of the store in one slot, or split a session's keys across slots.
    pub(super) fn new(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        assert!(
            !prefix.contains(['{', '}']),
            "a Redis store key prefix must not contain braces (they would form the hash tag): {prefix:?}"
        );
        Self { prefix }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>{<id>}:s`: the session record, a hash.
    pub(super) fn record(&self, id: &SessionId) -> String {
        format!("{}{{{id}}}:s", self.prefix)
    }

    /// `<prefix>{<token-hash-hex>}:t`: the token index, a string holding the public id.
    pub(super) fn token(&self, key: &TokenHash) -> String {
        self.token_hex(&key.to_hex())
    }

    /// [`token`](Self::token) from the hash's hex form.
    pub(super) fn token_hex(&self, hex: &str) -> String {
        format!("{}{{{hex}}}:t", self.prefix)
    }

    /// `<prefix>{u:<user>}:sessions`: the user index, a sorted set of public ids.
    ///
    /// The name is injective in `user` (a fixed text on either side). A user name holding `}`
    /// shortens the hash tag, which only picks another slot: every command on this key is a
    /// single-key command.
    pub(super) fn user(&self, user: &str) -> String {
        format!("{}{USER_TAG}{user}{USER_SUFFIX}", self.prefix)
    }

    /// `SCAN MATCH` pattern for every key of this store.
    pub(super) fn scan_all(&self) -> String {
        format!("{}*", glob_escape(&self.prefix))
    }

    /// `SCAN MATCH` pattern for the session records of this store.
    pub(super) fn scan_records(&self) -> String {
        format!("{}{{*{RECORD_SUFFIX}", glob_escape(&self.prefix))
    }

    /// What `key`, found by `SCAN`, holds.
    pub(super) fn classify(&self, key: &[u8]) -> Kind {
        let Some(rest) = key.strip_prefix(self.prefix.as_bytes()) else {
            return Kind::Other;
        };
        let Ok(rest) = std::str::from_utf8(rest) else {
            return Kind::Other;
        };
        if let Some(user) = rest
            .strip_prefix(USER_TAG)
            .and_then(|r| r.strip_suffix(USER_SUFFIX))
        {
            return Kind::User(user.to_owned());
        }
        if rest.ends_with(TOKEN_SUFFIX) {
            return Kind::Other;
        }
        rest.strip_prefix('{')
            .and_then(|r| r.strip_suffix(RECORD_SUFFIX))
            .and_then(SessionId::parse)
            .map_or(Kind::Other, Kind::Record)
    }
}

/// Escapes the characters Redis glob patterns treat specially.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_classification() {
        let keys = Keys::new("app:");
        let id = SessionId([7; 16]);
        let record = keys.record(&id);
        assert_eq!(record, format!("app:{{{id}}}:s"));
        assert_eq!(keys.classify(record.as_bytes()), Kind::Record(id));
        let token = keys.token(&TokenHash([0xab; 32]));
        assert_eq!(token, format!("app:{{{}}}:t", "ab".repeat(32)));
        assert_eq!(keys.classify(token.as_bytes()), Kind::Other);
        for user in ["alice", "a}:s", "{u:x}:sessions", "ü \"q\""] {
            let key = keys.user(user);
            assert_eq!(keys.classify(key.as_bytes()), Kind::User(user.to_owned()));
        }
        assert_eq!(keys.classify(b"other:{x}:s"), Kind::Other);
        assert_eq!(keys.classify(b"app:{not-an-id}:s"), Kind::Other);
    }

    #[test]
    fn patterns_escape_the_prefix() {
        let keys = Keys::new("a*b?[c]\\:");
        assert_eq!(keys.scan_all(), "a\\*b\\?\\[c\\]\\\\:*");
        assert_eq!(keys.scan_records(), "a\\*b\\?\\[c\\]\\\\:{*}:s");
    }

    #[test]
    #[should_panic(expected = "braces")]
    fn braces_in_the_prefix_are_refused() {
        let _ = Keys::new("app:{x}:");
    }
}
