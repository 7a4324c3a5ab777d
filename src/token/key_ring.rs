//! The keys a service signs and verifies JWTs with: one current signing key, and every key
//! still listed for verification, each found by its `kid`.

use super::jwt_algorithm::JwtAlgorithm;
use super::jwt_key::JwtKey;
use super::key_error::KeyError;

/// The `kid` of the single key [`KeyRing::from_secret`] builds. Naming it lets a deployment
/// move from one secret to a list without logging anyone out: `new=…,default=<old secret>`.
pub const DEFAULT_KID: &str = "default";

/// The keys JWTs are signed and verified with.
///
/// New tokens are signed with the current key; a token is verified with the key its `kid`
/// header names, using that key's algorithm. Rotation logs nobody out:
/// [`rotate`](Self::rotate) makes a new key current and keeps the previous one listed for
/// verification, so tokens it signed stay valid until they expire, and
/// [`retire`](Self::retire) then drops it (its tokens are refused as `unknown_kid`).
///
/// Instances that share the keys (the same HMAC secrets, or the same public keys) accept
/// each other's tokens: see [`KeyRing::from_shared_secrets`].
///
/// ```
/// # #[cfg(feature = "jwt")] {
/// use sessionward::token::{JwtKey, KeyRing};
///
/// let old = JwtKey::hs256("2026-11", "an old secret of at least 32 bytes!!")?;
/// let new = JwtKey::hs256("2026-12", "a new secret of at least 32 bytes!!!")?;
/// let ring = KeyRing::new(old)?.rotate(new)?; // signs with 2026-12, verifies both
/// assert_eq!(ring.current_kid(), "2026-12");
/// let ring = ring.retire("2026-11")?; // once the old key's tokens have expired
/// assert_eq!(ring.kids().collect::<Vec<_>>(), ["2026-12"]);
/// # }
/// # Ok::<(), sessionward::token::KeyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeyRing {
    /// The current signing key first, then the keys kept for verification, newest first.
    keys: Vec<JwtKey>,
}

impl KeyRing {
    /// A ring whose only key, `current`, signs and verifies.
    ///
    /// # Errors
    /// [`KeyError::NotSigningKey`] if `current` has no private half.
    pub fn new(current: JwtKey) -> Result<Self, KeyError> {
        if !current.can_sign() {
            return Err(KeyError::NotSigningKey(current.kid().to_owned()));
        }
        Ok(Self {
            keys: vec![current],
        })
    }

    /// Adds a key used only to verify tokens (a retired signing key, or another instance's
    /// public key).
    ///
    /// # Errors
    /// [`KeyError::DuplicateKid`] if the ring already has a key with its `kid`.
    pub fn with_verifying_key(mut self, key: JwtKey) -> Result<Self, KeyError> {
        self.check_new_kid(key.kid())?;
        self.keys.push(key);
        Ok(self)
    }

    /// Makes `new_current` the signing key. The previous one stays listed for verification,
    /// so the tokens it signed remain valid until they expire or it is retired.
    ///
    /// # Errors
    /// [`KeyError::NotSigningKey`] or [`KeyError::DuplicateKid`].
    pub fn rotate(mut self, new_current: JwtKey) -> Result<Self, KeyError> {
        if !new_current.can_sign() {
            return Err(KeyError::NotSigningKey(new_current.kid().to_owned()));
        }
        self.check_new_kid(new_current.kid())?;
        self.keys.insert(0, new_current);
        Ok(self)
    }

    /// Removes a verification key: tokens it signed are refused from now on (`unknown_kid`).
    ///
    /// # Errors
    /// [`KeyError::UnknownKid`], or [`KeyError::RetiringCurrent`] for the signing key.
    pub fn retire(mut self, kid: &str) -> Result<Self, KeyError> {
        match self.keys.iter().position(|key| key.kid() == kid) {
            Some(0) => Err(KeyError::RetiringCurrent(kid.to_owned())),
            Some(index) => {
                self.keys.remove(index);
                Ok(self)
            }
            None => Err(KeyError::UnknownKid(kid.to_owned())),
        }
    }

    /// A ring of one HS256 key with `kid` [`DEFAULT_KID`], from a secret every instance shares
    /// (the demo reads it from `SESSIONWARD_JWT_SECRET`).
    ///
    /// # Errors
    /// [`KeyError::SecretTooShort`] under 32 bytes.
    pub fn from_secret(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Self::new(JwtKey::hs256(DEFAULT_KID, secret)?)
    }

    /// A ring of one HS256 key with `kid` [`DEFAULT_KID`] and a fresh 32-byte secret from the
    /// OS CSPRNG, known to this process only: for a single instance, or for development.
    /// Tokens it signs die with the process, and other instances cannot verify them; share
    /// a secret ([`from_secret`](Self::from_secret)) when either matters.
    ///
    /// # Errors
    /// When the operating system cannot supply randomness.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)?;
        let key = JwtKey::hs256(DEFAULT_KID, secret);
        secret.fill(0);
        // A 32-byte secret is long enough and the default kid is valid: neither check fails.
        Ok(Self::new(key.expect("a valid HS256 key")).expect("a ring of one key"))
    }

    /// A ring of HS256 keys from `kid=secret,kid=secret,…` (the demo reads it from
    /// `SESSIONWARD_JWT_KEYS`): the first key signs, all of them verify. A secret is the text
    /// after the first `=`, taken as it is (it may contain `=`, not `,`), of at least 32
    /// bytes; whitespace around entries is ignored.
    ///
    /// ```
    /// # #[cfg(feature = "jwt")] {
    /// use sessionward::token::KeyRing;
    ///
    /// let ring = KeyRing::from_shared_secrets(
    ///     "k2=second-secret-at-least-32-bytes-long,k1=first-secret-at-least-32-bytes-long",
    /// )?;
    /// assert_eq!(ring.current_kid(), "k2");
    /// # }
    /// # Ok::<(), sessionward::token::KeyError>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError::Empty`], [`KeyError::MalformedList`] for an entry without `=`, an invalid
    /// `kid`, a duplicate `kid`, or a short secret. No error message contains a secret.
    pub fn from_shared_secrets(list: &str) -> Result<Self, KeyError> {
        let list = list.trim();
        if list.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut ring: Option<Self> = None;
        for (index, entry) in list.split(',').enumerate() {
            let Some((kid, secret)) = entry.trim().split_once('=') else {
                return Err(KeyError::MalformedList { entry: index + 1 });
            };
            let key = JwtKey::hmac(kid, JwtAlgorithm::Hs256, secret)?;
            ring = Some(match ring {
                None => Self::new(key)?,
                Some(ring) => ring.with_verifying_key(key)?,
            });
        }
        ring.ok_or(KeyError::Empty)
    }

    /// The `kid` of the key new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        self.current().kid()
    }

    /// Every listed `kid`: the current one first, then the verification keys, newest first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(JwtKey::kid)
    }

    pub(crate) fn current(&self) -> &JwtKey {
        // `new` puts a key in, and `retire` never takes the first one out.
        &self.keys[0]
    }

    pub(crate) fn find(&self, kid: &str) -> Option<&JwtKey> {
        self.keys.iter().find(|key| key.kid() == kid)
    }

    fn check_new_kid(&self, kid: &str) -> Result<(), KeyError> {
        if self.find(kid).is_some() {
            return Err(KeyError::DuplicateKid(kid.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = "first-secret-of-at-least-32-bytes!";
    const S2: &str = "second-secret-of-at-least-32-bytes";

    #[test]
    fn rotation_keeps_the_old_key_for_verification_until_retired() {
        let ring = KeyRing::new(JwtKey::hs256("a", S1).unwrap()).unwrap();
        let ring = ring.rotate(JwtKey::hs256("b", S2).unwrap()).unwrap();
        assert_eq!(ring.current_kid(), "b");
        assert!(ring.find("a").is_some());
        assert_eq!(
            ring.clone().retire("b").unwrap_err(),
            KeyError::RetiringCurrent("b".into())
        );
        assert_eq!(
            ring.clone().retire("c").unwrap_err(),
            KeyError::UnknownKid("c".into())
        );
        let ring = ring.retire("a").unwrap();
        assert!(ring.find("a").is_none());
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn kids_are_unique_and_the_signer_can_sign() {
        let ring = KeyRing::new(JwtKey::hs256("a", S1).unwrap()).unwrap();
        assert_eq!(
            ring.clone()
                .with_verifying_key(JwtKey::hs256("a", S2).unwrap())
                .unwrap_err(),
            KeyError::DuplicateKid("a".into())
        );
        assert_eq!(
            ring.rotate(JwtKey::hs256("a", S2).unwrap()).unwrap_err(),
            KeyError::DuplicateKid("a".into())
        );
    }

    #[test]
    fn shared_secret_lists_parse_first_signs_all_verify() {
        let ring = KeyRing::from_shared_secrets(&format!(" new={S2} , old={S1}\n")).unwrap();
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["new", "old"]);
        // A secret may contain `=` (base64 padding); only the first one separates.
        let ring = KeyRing::from_shared_secrets(&format!("k={S1}==")).unwrap();
        assert_eq!(ring.current_kid(), "k");
        assert_eq!(KeyRing::from_secret(S1).unwrap().current_kid(), DEFAULT_KID);
    }

    #[test]
    fn bad_shared_secret_lists_are_refused_without_echoing_secrets() {
        let cases = [
            ("", KeyError::Empty),
            ("  \n", KeyError::Empty),
            (S1, KeyError::MalformedList { entry: 1 }),
            (&format!("a={S1},"), KeyError::MalformedList { entry: 2 }),
            (
                &format!("a={S1},,b={S2}"),
                KeyError::MalformedList { entry: 2 },
            ),
            (&format!("={S1}"), KeyError::InvalidKid),
            (&format!("a b={S1}"), KeyError::InvalidKid),
            (
                &format!("a={S1},a={S2}"),
                KeyError::DuplicateKid("a".into()),
            ),
            (
                "a=short",
                KeyError::SecretTooShort {
                    kid: "a".into(),
                    algorithm: JwtAlgorithm::Hs256,
                    len: 5,
                    min: 32,
                },
            ),
        ];
        for (list, expected) in cases {
            let err = KeyRing::from_shared_secrets(list).unwrap_err();
            assert_eq!(err, expected, "{list:?}");
            let message = err.to_string();
            assert!(
                !message.contains("secret-of") && !message.contains("short"),
                "{message}"
            );
        }
        assert!(KeyRing::from_secret("31 bytes is one byte too short").is_err());
    }
}
