//! The claims of a session's access token, as issued and as read back from a presented token
//! (where every field is first taken as optional, so a missing one gets its own refusal).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::jwt_error::InvalidToken;
use super::SessionId;

/// The claims of an access token: whom it is for, which session it belongs to, and when it is
/// valid. A verified token's claims have passed every check; a handler can trust them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AccessClaims {
    /// The issuer, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The subject: the session's user.
    pub sub: String,
    /// The audiences. A token carries one (as a string) when an audience is configured; one
    /// read back may name several (as an array).
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, in seconds since the Unix epoch.
    pub iat: u64,
    /// Not valid before, in seconds since the Unix epoch.
    pub nbf: u64,
    /// This token's unique id (128 random bits, base64url).
    pub jti: String,
    /// The public id of the session the token belongs to.
    pub sid: SessionId,
}

fn one_or_many<S: serde::Serializer>(aud: &[String], s: S) -> Result<S::Ok, S::Error> {
    match aud {
        [one] => one.serialize(s),
        many => many.serialize(s),
    }
}

/// An issued access token and the claims it carries. Its `Debug` output omits the token,
/// which is a bearer credential.
#[derive(Clone)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The compact JWT (`header.claims.signature`), to send as `Authorization: Bearer`.
    pub token: String,
    /// What the token says.
    pub claims: AccessClaims,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .finish()
    }
}

impl IssuedToken {
    pub(crate) fn new(token: String, claims: AccessClaims) -> Self {
        Self { token, claims }
    }
}

/// `aud` as RFC 7519 allows it: one string or an array of them, borrowed from the token's
/// JSON where it has no escapes.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Audience<'a> {
    One(#[serde(borrow)] Cow<'a, str>),
    Many(#[serde(borrow)] Vec<Cow<'a, str>>),
}

impl<'a> Audience<'a> {
    /// The audiences of an optional `aud`, as a slice.
    pub(super) fn slice<'s>(aud: &'s Option<Self>) -> &'s [Cow<'a, str>] {
        match aud {
            None => &[],
            Some(Self::One(one)) => std::slice::from_ref(one),
            Some(Self::Many(many)) => many,
        }
    }
}

/// The claims as a presented token has them, before any check, borrowed from its JSON where
/// they have no escapes. Unknown claims are ignored; a claim of the wrong type (a string `exp`,
/// a fractional time) makes the token malformed.
#[derive(Deserialize)]
pub(crate) struct PresentedClaims<'a> {
    #[serde(borrow)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sub: Option<Cow<'a, str>>,
    #[serde(borrow)]
    aud: Option<Audience<'a>>,
    exp: Option<u64>,
    iat: Option<u64>,
    nbf: Option<u64>,
    #[serde(borrow)]
    jti: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sid: Option<Cow<'a, str>>,
}

/// Presented claims with every required one there and `sid` a session id; the times, issuer
/// and audience are still to be checked.
pub(crate) struct CheckedClaims<'a> {
    pub(super) iss: Option<Cow<'a, str>>,
    pub(super) sub: Cow<'a, str>,
    pub(super) aud: Option<Audience<'a>>,
    pub(super) exp: u64,
    pub(super) iat: u64,
    pub(super) nbf: u64,
    jti: Cow<'a, str>,
    pub(super) sid: SessionId,
}

impl<'a> PresentedClaims<'a> {
    /// The claims, once every required one is present and `sid` is a session id.
    pub(crate) fn checked(self) -> Result<CheckedClaims<'a>, InvalidToken> {
        let sid = self.sid.ok_or(InvalidToken::MissingClaim("sid"))?;
        Ok(CheckedClaims {
            iss: self.iss,
            sub: self.sub.ok_or(InvalidToken::MissingClaim("sub"))?,
            aud: self.aud,
            exp: self.exp.ok_or(InvalidToken::MissingClaim("exp"))?,
            iat: self.iat.ok_or(InvalidToken::MissingClaim("iat"))?,
            nbf: self.nbf.ok_or(InvalidToken::MissingClaim("nbf"))?,
            jti: self.jti.ok_or(InvalidToken::MissingClaim("jti"))?,
            sid: SessionId::parse(&sid).ok_or(InvalidToken::Malformed)?,
        })
    }
}

impl CheckedClaims<'_> {
    /// The times to check the claims by.
    pub(crate) fn times(&self) -> super::jwt::ClaimTimes {
        super::jwt::ClaimTimes {
            exp: Some(self.exp),
            iat: self.iat,
            nbf: self.nbf,
        }
    }

    /// The claims as the public API hands them out, owned.
    pub(crate) fn into_owned(self) -> AccessClaims {
        let aud = match self.aud {
            None => Vec::new(),
            Some(Audience::One(one)) => vec![one.into_owned()],
            Some(Audience::Many(many)) => many.into_iter().map(Cow::into_owned).collect(),
        };
        AccessClaims {
            iss: self.iss.map(Cow::into_owned),
            sub: self.sub.into_owned(),
            aud,
            exp: self.exp,
            iat: self.iat,
            nbf: self.nbf,
            jti: self.jti.into_owned(),
            sid: self.sid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<AccessClaims, InvalidToken> {
        Ok(serde_json::from_str::<PresentedClaims>(json)
            .map_err(|_| InvalidToken::Malformed)?
            .checked()?
            .into_owned())
    }

    const SID: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn audience_is_one_string_or_an_array() {
        let base = format!(r#""sub":"u","exp":3,"iat":1,"nbf":1,"jti":"j","sid":"{SID}""#);
        assert_eq!(
            read(&format!(r#"{{{base},"aud":"a"}}"#)).unwrap().aud,
            ["a"]
        );
        assert_eq!(
            read(&format!(r#"{{{base},"aud":["a","b"]}}"#)).unwrap().aud,
            ["a", "b"]
        );
        assert!(read(&format!(r#"{{{base}}}"#)).unwrap().aud.is_empty());
        assert_eq!(
            read(&format!(r#"{{{base},"aud":7}}"#)),
            Err(InvalidToken::Malformed)
        );
    }

    #[test]
    fn each_missing_or_mistyped_claim_has_its_refusal() {
        for claim in ["sub", "exp", "iat", "nbf", "jti", "sid"] {
            let mut fields = vec![
                r#""sub":"u""#.to_owned(),
                r#""exp":3"#.into(),
                r#""iat":1"#.into(),
                r#""nbf":1"#.into(),
                r#""jti":"j""#.into(),
                format!(r#""sid":"{SID}""#),
            ];
            fields.retain(|f| !f.starts_with(&format!("\"{claim}\"")));
            let json = format!("{{{}}}", fields.join(","));
            assert_eq!(
                read(&json),
                Err(InvalidToken::MissingClaim(claim)),
                "{json}"
            );
        }
        let base = r#""sub":"u","iat":1,"nbf":1,"jti":"j""#;
        for bad in [
            format!(r#"{{{base},"exp":"3","sid":"{SID}"}}"#),
            format!(r#"{{{base},"exp":3.5,"sid":"{SID}"}}"#),
            format!(r#"{{{base},"exp":-3,"sid":"{SID}"}}"#),
            format!(r#"{{{base},"exp":3,"sid":"not a session id"}}"#),
            format!(r#"{{{base},"exp":3,"exp":4,"sid":"{SID}"}}"#),
            "[]".to_owned(),
        ] {
            assert_eq!(read(&bad), Err(InvalidToken::Malformed), "{bad}");
        }
    }

    #[test]
    fn one_audience_is_written_as_a_string() {
        let claims = read(&format!(
            r#"{{"sub":"u","exp":3,"iat":1,"nbf":1,"jti":"j","sid":"{SID}","aud":"a"}}"#
        ))
        .unwrap();
        let json = serde_json::to_string(&claims).unwrap();
        assert!(
            json.contains(r#""aud":"a""#) && !json.contains("iss"),
            "{json}"
        );
    }
}
