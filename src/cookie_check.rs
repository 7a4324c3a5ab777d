//! The session cookie's attributes checked against each other and against the browsers' rules
//! (RFC 6265bis), when the layer is built: a configuration browsers would silently refuse is
//! an error at start-up, not a login that never sticks.

use std::fmt;
use std::time::Duration;

use cookie::SameSite;

/// The longest `Max-Age` browsers keep (RFC 6265bis §5.5: user agents cap it at 400 days).
pub(crate) const MAX_COOKIE_AGE: Duration = Duration::from_secs(400 * 24 * 3600);

/// Why a [`CookieConfig`](crate::CookieConfig) cannot be used; see
/// [`SessionLayer::try_cookie`](crate::SessionLayer::try_cookie).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieConfigError {
    /// A `__Host-` cookie must not name a `Domain`.
    HostPrefixWithDomain,
    /// A `__Host-` cookie must have `Path=/`.
    HostPrefixWithPath(String),
    /// A `__Host-` or `__Secure-` cookie must be `Secure`.
    PrefixWithoutSecure(String),
    /// `SameSite=None` needs `Secure`.
    SameSiteNoneWithoutSecure,
    /// The path does not start with `/`, or holds `;` or a control character.
    InvalidPath(String),
    /// The domain is empty, or holds `;`, spaces or control characters.
    InvalidDomain(String),
}

impl fmt::Display for CookieConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HostPrefixWithDomain => {
                f.write_str("a __Host- cookie cannot have a Domain (browsers refuse it)")
            }
            Self::HostPrefixWithPath(path) => write!(
                f,
                "a __Host- cookie must have Path=/, not {path:?} (browsers refuse it)"
            ),
            Self::PrefixWithoutSecure(name) => write!(
                f,
                "cookie {name:?}: the __Host- and __Secure- prefixes require Secure"
            ),
            Self::SameSiteNoneWithoutSecure => f.write_str("SameSite=None requires Secure"),
            Self::InvalidPath(path) => write!(f, "invalid cookie path {path:?}"),
            Self::InvalidDomain(domain) => write!(f, "invalid cookie domain {domain:?}"),
        }
    }
}

impl std::error::Error for CookieConfigError {}

/// The attributes to check.
pub(crate) struct Attributes<'a> {
    pub(crate) name: &'a str,
    pub(crate) secure: bool,
    pub(crate) same_site: SameSite,
    pub(crate) domain: Option<&'a str>,
    pub(crate) path: &'a str,
}

pub(crate) fn check(a: &Attributes<'_>) -> Result<(), CookieConfigError> {
    let bad = |s: &str| s.bytes().any(|b| b == b';' || b.is_ascii_control());
    if !a.path.starts_with('/') || bad(a.path) {
        return Err(CookieConfigError::InvalidPath(a.path.to_owned()));
    }
    if let Some(domain) = a.domain {
        if domain.is_empty() || bad(domain) || domain.contains(' ') {
            return Err(CookieConfigError::InvalidDomain(domain.to_owned()));
        }
    }
    let host = a.name.starts_with("__Host-");
    if (host || a.name.starts_with("__Secure-")) && !a.secure {
        return Err(CookieConfigError::PrefixWithoutSecure(a.name.to_owned()));
    }
    if host && a.domain.is_some() {
        return Err(CookieConfigError::HostPrefixWithDomain);
    }
    if host && a.path != "/" {
        return Err(CookieConfigError::HostPrefixWithPath(a.path.to_owned()));
    }
    if a.same_site == SameSite::None && !a.secure {
        return Err(CookieConfigError::SameSiteNoneWithoutSecure);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(name: &str) -> Attributes<'_> {
        Attributes {
            name,
            secure: true,
            same_site: SameSite::Lax,
            domain: None,
            path: "/",
        }
    }

    #[test]
    fn each_rule_has_its_error() {
        assert_eq!(check(&attrs("__Host-s")), Ok(()));
        let cases = [
            (
                Attributes {
                    domain: Some("example.com"),
                    ..attrs("__Host-s")
                },
                CookieConfigError::HostPrefixWithDomain,
            ),
            (
                Attributes {
                    path: "/app",
                    ..attrs("__Host-s")
                },
                CookieConfigError::HostPrefixWithPath("/app".into()),
            ),
            (
                Attributes {
                    secure: false,
                    ..attrs("__Secure-s")
                },
                CookieConfigError::PrefixWithoutSecure("__Secure-s".into()),
            ),
            (
                Attributes {
                    secure: false,
                    same_site: SameSite::None,
                    ..attrs("s")
                },
                CookieConfigError::SameSiteNoneWithoutSecure,
            ),
            (
                Attributes {
                    path: "app",
                    ..attrs("s")
                },
                CookieConfigError::InvalidPath("app".into()),
            ),
            (
                Attributes {
                    domain: Some("a.com; x"),
                    ..attrs("s")
                },
                CookieConfigError::InvalidDomain("a.com; x".into()),
            ),
        ];
        for (attributes, error) in cases {
            assert_eq!(check(&attributes), Err(error));
        }
        // Without a prefix, Domain and Path are the app's choice.
        let free = Attributes {
            domain: Some("example.com"),
            path: "/app",
            ..attrs("session")
        };
        assert_eq!(check(&free), Ok(()));
    }
}
