//! Key names: one hash tag per key, chosen so that every atomic step touches one slot.

use crate::token::{SessionId, TokenHash};

/// Suffix of a session record key, `<prefix>{<token-hash-hex>}:s`.
const RECORD_SUFFIX: &str = "}:s";
/// Suffix of a record sealed mid-rotation on a cluster, `<prefix>{<token-hash-hex>}:m`.
const SEALED_SUFFIX: &str = "}:m";
/// Suffix of an id index key, `<prefix>{<id>}:i`.
const ID_SUFFIX: &str = "}:i";
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
    /// A session record, with the token hash (hex) it is stored under.
    Record(String),
    /// A user index, with the user's name.
    User(String),
    /// An id index, a sealed record, or a key this store did not write.
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

    /// `<prefix>{<token-hash-hex>}:s`: the session record, a hash, under its current token.
    pub(super) fn record(&self, hex: &str) -> String {
        self.tagged(hex, RECORD_SUFFIX)
    }

    /// [`record`](Self::record) straight from the token hash, with no hex string of its own:
    /// every load through the store names a record.
    pub(super) fn record_of(&self, hash: &TokenHash) -> String {
        self.tagged(hash.hex_in(&mut [0; 64]), RECORD_SUFFIX)
    }

    /// `<prefix>{<token-hash-hex>}:m`: a record while a cluster rotation moves it (same slot).
    pub(super) fn sealed(&self, hex: &str) -> String {
        self.tagged(hex, SEALED_SUFFIX)
    }

    /// `<prefix>{<id>}:i`: the id index, a string holding the session's current token hash.
    pub(super) fn id(&self, id: &SessionId) -> String {
        self.tagged(id.text_in(&mut Default::default()), ID_SUFFIX)
    }

    /// `<prefix>{<tag><suffix>`, without the formatting machinery (this is on every request).
    fn tagged(&self, tag: &str, suffix: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + 1 + tag.len() + suffix.len());
        key.push_str(&self.prefix);
        key.push('{');
        key.push_str(tag);
        key.push_str(suffix);
        key
    }

    /// `<prefix>{u:<user>}:sessions`: the user index, a sorted set of public ids.
    ///
    /// The name is injective in `user` (a fixed text on either side). A user name holding `}`
    /// shortens the hash tag, which only picks another slot: every command on this key is a
    /// single-key command.
    pub(super) fn user(&self, user: &str) -> String {
        format!("{}{USER_TAG}{user}{USER_SUFFIX}", self.prefix)
    }

    /// `<prefix>{a:<lock name>}:lease`: the lease an admission holds (see `admit_lock.rs`).
    pub(super) fn admit_lease(&self, lock: &str) -> String {
        format!("{}{{a:{lock}}}:lease", self.prefix)
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
        rest.strip_prefix('{')
            .and_then(|r| r.strip_suffix(RECORD_SUFFIX))
            .filter(|hex| is_token_hex(hex))
            .map_or(Kind::Other, |hex| Kind::Record(hex.to_owned()))
    }
}

/// Whether `text` is a token hash as
/// [`TokenHash::to_hex`](crate::token::TokenHash::to_hex) writes it: 64 lowercase hex digits.
fn is_token_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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
    use crate::token::TokenHash;

    #[test]
    fn layout_and_classification() {
        let keys = Keys::new("app:");
        let hex = TokenHash([0xab; 32]).to_hex();
        let record = keys.record(&hex);
        assert_eq!(keys.record_of(&TokenHash([0xab; 32])), record);
        assert_eq!(record, format!("app:{{{}}}:s", "ab".repeat(32)));
        assert_eq!(keys.classify(record.as_bytes()), Kind::Record(hex.clone()));
        assert_eq!(keys.classify(keys.sealed(&hex).as_bytes()), Kind::Other);
        let id = SessionId([7; 16]);
        assert_eq!(keys.id(&id), format!("app:{{{id}}}:i"));
        assert_eq!(keys.classify(keys.id(&id).as_bytes()), Kind::Other);
        for user in ["alice", "a}:s", "{u:x}:sessions", "ü \"q\""] {
            let key = keys.user(user);
            assert_eq!(keys.classify(key.as_bytes()), Kind::User(user.to_owned()));
        }
        assert_eq!(keys.classify(b"other:{x}:s"), Kind::Other);
        assert_eq!(keys.classify(b"app:{not-a-hash}:s"), Kind::Other);
        assert_eq!(
            keys.classify(format!("app:{{{}}}:s", "AB".repeat(32)).as_bytes()),
            Kind::Other
        );
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
