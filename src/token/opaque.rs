//! Opaque random tokens (32 bytes from the OS CSPRNG, base64url without padding) and public
//! session ids.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Length of a token's raw bytes (256 bits of entropy).
const TOKEN_BYTES: usize = 32;
/// Length of a token in its base64url text form.
pub(crate) const TOKEN_TEXT_LEN: usize = 43;
/// Length of a public session id's raw bytes (128 bits: unguessable, and short in listings).
const ID_BYTES: usize = 16;
/// Length of a public session id in its base64url text form.
const ID_TEXT_LEN: usize = 22;

/// The secret a client presents to prove it holds a session: 32 bytes from the OS CSPRNG, held
/// in the base64url text form the client sends.
///
/// It is never stored and never logged: its `Debug` output is redacted. The store keys sessions
/// by [`TokenHash`], the SHA-256 of this text. Hashing the text rather than the decoded bytes
/// means a presented token is never decoded at all: it is checked for length and alphabet,
/// then hashed (one SHA-256 block either way).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken([u8; TOKEN_TEXT_LEN]);

impl SessionToken {
    /// Accepts exactly 43 base64url characters (`A–Z a–z 0–9 - _`, no padding); anything else
    /// is `None`. This runs before any store call, so junk costs no round trip. A well-formed
    /// text that was never issued simply matches no session.
    pub fn parse(text: &[u8]) -> Option<Self> {
        let text: [u8; TOKEN_TEXT_LEN] = text.try_into().ok()?;
        // Range checks without branches or early exit, which the compiler vectorizes (a lookup
        // table cannot be): about 10 ns instead of 14.
        let invalid = text.iter().fold(false, |bad, &b| {
            let letter = (b | 0x20).wrapping_sub(b'a') < 26; // `| 0x20` folds A–Z onto a–z
            let digit = b.wrapping_sub(b'0') < 10;
            bad | !(letter | digit | (b == b'-') | (b == b'_'))
        });
        (!invalid).then_some(Self(text))
    }

    fn from_random(raw: &[u8; TOKEN_BYTES]) -> Self {
        let mut text = [0u8; TOKEN_TEXT_LEN];
        let written = URL_SAFE_NO_PAD
            .encode_slice(raw, &mut text)
            .expect("32 bytes are 43 base64url characters");
        debug_assert_eq!(written, TOKEN_TEXT_LEN);
        Self(text)
    }

    /// The SHA-256 of the token text: what the store keeps.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }

    /// The base64url text form, as sent in a cookie or `Authorization: Bearer` header.
    pub fn to_text(&self) -> String {
        self.as_str().to_owned()
    }

    fn as_str(&self) -> &str {
        // Only base64url characters are ever stored.
        std::str::from_utf8(&self.0).expect("base64url is ASCII")
    }

    /// Appends the text form to `out`.
    pub(crate) fn write_text(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// SHA-256 of a [`SessionToken`]; the key under which a store keeps a session.
///
/// A token has 256 bits of entropy, so a plain (unsalted, fast) hash is enough: nothing can be
/// brute-forced back from it, and a hash lookup needs no constant-time comparison.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The hash as lowercase hex, for stores that key by text.
    pub fn to_hex(&self) -> String {
        self.hex_in(&mut [0; 64]).to_owned()
    }

    /// The hash as lowercase hex, written into `buf`: for a caller that copies it into a
    /// longer text anyway, without a string of its own.
    pub(crate) fn hex_in<'b>(&self, buf: &'b mut [u8; 64]) -> &'b str {
        // Cannot fail: the buffer is exactly twice the hash's length, and hex is ASCII.
        let _ = hex::encode_to_slice(self.0, buf);
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only a prefix: enough to correlate in a debugger, not a full store key.
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// The public, non-secret identifier of a session: stable across token rotation, shown in
/// listings and used to revoke a session. It is not a credential.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; ID_BYTES]);

impl SessionId {
    /// Parses the 22-character base64url form produced by `Display`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != ID_TEXT_LEN {
            return None;
        }
        let mut raw = [0u8; ID_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut raw) {
            Ok(ID_BYTES) => Some(Self(raw)),
            _ => None,
        }
    }

    /// The text form, written into `buf`: for a caller that copies it into a longer text
    /// anyway (a store key, a record's field), without a string of its own.
    pub(crate) fn text_in<'b>(&self, buf: &'b mut [u8; ID_TEXT_LEN]) -> &'b str {
        // Cannot fail: 16 bytes are exactly 22 base64url characters, which are ASCII.
        let n = URL_SAFE_NO_PAD.encode_slice(self.0, buf).unwrap_or(0);
        std::str::from_utf8(&buf[..n]).unwrap_or_default()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text_in(&mut [0; ID_TEXT_LEN]))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

impl serde::Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not a session id"))
    }
}

/// A fresh token (from the OS CSPRNG) and public id.
///
/// # Errors
/// Fails only when the operating system cannot supply randomness, which the caller reports as
/// a server error rather than falling back to anything weaker.
pub(crate) fn generate() -> Result<(SessionToken, SessionId), getrandom::Error> {
    Ok((generate_token()?, generate_id()))
}

/// A fresh public id alone, for a session whose token was already drawn.
///
/// The id is no credential, so it needs to be unique and unpredictable (listings must not
/// reveal how many sessions exist or let one id be guessed from another), not to come from
/// the kernel: it is drawn from `rand`'s thread-local CSPRNG (ChaCha12, seeded and reseeded
/// from the OS). That costs a few nanoseconds where 16 more bytes of kernel randomness cost
/// about 27 ns, a thirtieth of everything else a new session costs.
pub(crate) fn generate_id() -> SessionId {
    use rand::Rng as _;
    let mut id = [0u8; ID_BYTES];
    rand::rng().fill_bytes(&mut id);
    SessionId(id)
}

/// A fresh token alone, from the OS CSPRNG: for a new session, and for rotation (the public
/// id stays).
pub(crate) fn generate_token() -> Result<SessionToken, getrandom::Error> {
    let mut token = [0u8; TOKEN_BYTES];
    os_random(&mut token)?;
    Ok(SessionToken::from_random(&token))
}

/// Bytes read from the OS CSPRNG ahead of need, per thread.
///
/// A `getrandom` system call costs about 340 ns here, a fifth of everything else a new session
/// costs, so each thread reads 1 KiB at a time and hands every byte out exactly once, erasing it
/// as it goes: tokens are still OS CSPRNG output, never a user-space generator's, and at most
/// the next 32 tokens of a thread sit in its memory. A process that forks after drawing a token
/// shares the unused rest with its child; the store's refusal to create a duplicate key
/// ([`StoreError::Conflict`](crate::StoreError::Conflict)) turns that into an error, never a
/// shared session.
struct RandomPool {
    bytes: [u8; 1024],
    used: usize,
}

thread_local! {
    static POOL: std::cell::RefCell<RandomPool> = const {
        std::cell::RefCell::new(RandomPool { bytes: [0; 1024], used: 1024 })
    };
}

fn os_random(out: &mut [u8]) -> Result<(), getrandom::Error> {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let pool = &mut *pool;
        if pool.bytes.len() - pool.used < out.len() {
            getrandom::fill(&mut pool.bytes)?;
            pool.used = 0;
        }
        let taken = &mut pool.bytes[pool.used..pool.used + out.len()];
        out.copy_from_slice(taken);
        taken.fill(0);
        pool.used += out.len();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_text_round_trips_and_rejects_junk() {
        let (token, id) = generate().unwrap();
        let text = token.to_text();
        assert_eq!(text.len(), TOKEN_TEXT_LEN);
        assert_eq!(SessionToken::parse(text.as_bytes()), Some(token.clone()));
        assert_eq!(SessionId::parse(&id.to_string()), Some(id));
        // Wrong length, wrong alphabet, padding, a space.
        assert!(SessionToken::parse(&text.as_bytes()[..42]).is_none());
        assert!(SessionToken::parse(format!("{text}=").as_bytes()).is_none());
        let mut plus = text.clone().into_bytes();
        plus[0] = b'+';
        assert!(SessionToken::parse(&plus).is_none());
        let mut space = text.into_bytes();
        space[10] = b' ';
        assert!(SessionToken::parse(&space).is_none());
    }

    #[test]
    fn tokens_differ_and_debug_redacts() {
        let (a, _) = generate().unwrap();
        let (b, _) = generate().unwrap();
        assert_ne!(a, b);
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(&a.to_text()));
        assert_eq!(a.hash().to_hex().len(), 64);
    }

    #[test]
    fn exactly_the_base64url_alphabet_is_accepted() {
        let text = generate().unwrap().0.to_text().into_bytes();
        for b in 0..=255u8 {
            let mut candidate = text.clone();
            candidate[17] = b;
            let expected = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            assert_eq!(
                SessionToken::parse(&candidate).is_some(),
                expected,
                "byte {b}"
            );
        }
    }

    #[test]
    fn ids_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(generate_id()), "an id repeated");
        }
    }
}
