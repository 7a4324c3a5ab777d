//! Refresh tokens of bearer sessions: opaque, stored hashed, single use.

use std::fmt;

use sha2::{Digest, Sha256};

use super::opaque::{SessionToken, TOKEN_TEXT_LEN};
use super::{generate_token, SessionId, TokenHash};

/// Length of the public id part (22 base64url characters).
const ID_TEXT_LEN: usize = 22;

/// The refresh token of a bearer session: `<session id>.<secret>`, where the secret is 32
/// bytes from the OS CSPRNG in base64url (43 characters), so 66 characters in all.
///
/// The store keeps only the SHA-256 of the whole text, as the session's key, so a leaked store
/// cannot be replayed. The public session id in front lets the server find the session of a
/// token that was already used, to tell reuse (which revokes the session) from a forgery
/// (which changes nothing). The dot makes the text no session token: presented as a cookie or
/// as a bearer access token, it is refused as malformed. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    text: String,
    id: SessionId,
}

impl RefreshToken {
    /// A fresh token for the session `id`.
    pub(crate) fn generate(id: SessionId) -> Result<Self, getrandom::Error> {
        let secret = generate_token()?;
        let mut text = String::with_capacity(ID_TEXT_LEN + 1 + TOKEN_TEXT_LEN);
        text.push_str(&id.to_string());
        text.push('.');
        secret.write_text(&mut text);
        Ok(Self { text, id })
    }

    /// Accepts exactly a 22-character session id, a dot and 43 base64url characters; anything
    /// else is `None`, before any store call.
    pub fn parse(text: &str) -> Option<Self> {
        let (id, secret) = text.split_once('.')?;
        let id = SessionId::parse(id)?;
        SessionToken::parse(secret.as_bytes())?;
        Some(Self {
            text: text.to_owned(),
            id,
        })
    }

    /// The public id of the session this token refreshes.
    pub fn session_id(&self) -> SessionId {
        self.id
    }

    /// The SHA-256 of the token text: the session's key in the store. It can never equal a
    /// session token's hash, whose text is 43 characters.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.text.as_bytes()).into())
    }

    /// The text form, to hand to the client.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefreshToken({}.<redacted>)", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_back_to_the_same_session_and_hash() {
        let id = crate::token::generate_id();
        let token = RefreshToken::generate(id).unwrap();
        assert_eq!(token.as_str().len(), 66);
        let parsed = RefreshToken::parse(token.as_str()).unwrap();
        assert_eq!(parsed.session_id(), id);
        assert_eq!(parsed.hash(), token.hash());
        assert!(!format!("{token:?}").contains(&token.as_str()[23..]));
    }

    #[test]
    fn anything_but_the_exact_shape_is_refused() {
        let token = RefreshToken::generate(crate::token::generate_id()).unwrap();
        let text = token.as_str();
        for bad in [
            "",
            ".",
            &text[..65],
            &format!("{text}A"),
            &text.replacen('.', "", 1),
            &text.replacen('.', "!", 1),
            &format!("{}.{}", &text[..22], "x".repeat(42) + "*"),
            &text[23..],
        ] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn its_secret_alone_is_no_key_of_the_session() {
        let token = RefreshToken::generate(crate::token::generate_id()).unwrap();
        let secret = SessionToken::parse(&token.as_str().as_bytes()[23..]).unwrap();
        assert_ne!(secret.hash(), token.hash());
    }
}
