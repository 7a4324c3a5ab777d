//! Finding the credential a request presents: `Authorization: Bearer` first, then the cookie.
//!
//! Everything here is cheap and allocation-free, and junk is refused before any store call:
//! a token is exactly 43 base64url characters, so anything longer is dropped without decoding.

use http::header::{AUTHORIZATION, COOKIE};
use std::ops::Range;

use http::{HeaderMap, HeaderValue};
use memchr::memmem::Finder;

use super::SessionToken;

/// How a request presented its session credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// Neither a bearer token nor a session cookie.
    Nothing,
    /// A session cookie (valid or not).
    Cookie,
    /// An `Authorization: Bearer` header (valid or not).
    Bearer,
}

/// The credential found in a request. A present-but-unusable credential (malformed, duplicated)
/// is kept as `None` inside its variant, so rejections can still say how it was sent.
#[derive(Debug)]
pub(crate) enum Credential {
    Nothing,
    Cookie(Option<SessionToken>),
    Bearer(Option<SessionToken>),
    /// A bearer value shaped as a JWT (it has dots, which an opaque token never has), kept for
    /// the layer's `AccessTokens` to verify when the session is first used.
    #[cfg(feature = "jwt")]
    Jwt(PresentedJwt),
    /// A session cookie shaped as a JWT, with a layer that issues JWT cookies
    /// ([`SessionLayer::jwt_cookies`](crate::SessionLayer::jwt_cookies)).
    #[cfg(feature = "jwt")]
    CookieJwt(PresentedJwt),
}

impl Credential {
    /// `cookie_name` finds the session cookie's name (built once per layer, see
    /// [`find_cookie`]).
    /// With `accept_jwt`, a bearer value that is no opaque token but has a dot is kept as a
    /// [`Jwt`](Self::Jwt); the check runs only once the opaque parse has failed, so opaque
    /// tokens cost the same either way. With `cookie_jwt`, the same goes for the cookie's
    /// value, kept as a [`CookieJwt`](Self::CookieJwt).
    pub(crate) fn find(
        headers: &HeaderMap,
        cookie_name: &Finder<'_>,
        accept_bearer: bool,
        accept_jwt: bool,
        cookie_jwt: bool,
    ) -> Self {
        if accept_bearer {
            let mut auth = headers.get_all(AUTHORIZATION).iter();
            if let Some(first) = auth.next() {
                if let Some(token) = bearer_token(first.as_bytes()) {
                    // Two Authorization headers are ambiguous: no session.
                    let ambiguous = auth.next().is_some();
                    let token = if ambiguous { None } else { token };
                    #[cfg(feature = "jwt")]
                    if token.is_none() && accept_jwt && !ambiguous {
                        if let Some(jwt) = bearer_jwt(first) {
                            return Self::Jwt(jwt);
                        }
                    }
                    return Self::Bearer(token);
                }
            }
        }
        let _ = accept_jwt;
        find_cookie(headers, cookie_name, cookie_jwt)
    }

    pub(crate) fn presented(&self) -> Presented {
        match self {
            Self::Nothing => Presented::Nothing,
            Self::Cookie(_) => Presented::Cookie,
            Self::Bearer(_) => Presented::Bearer,
            #[cfg(feature = "jwt")]
            Self::Jwt(_) => Presented::Bearer,
            #[cfg(feature = "jwt")]
            Self::CookieJwt(_) => Presented::Cookie,
        }
    }
}

/// The JWT of a `Bearer` header value, when it has the shape of one (a dot, at most
/// [`MAX_TOKEN_LEN`](super::MAX_TOKEN_LEN) bytes); a longer one is kept cut to one byte past
/// the limit, so verification refuses it as too large without holding it whole.
#[cfg(feature = "jwt")]
fn bearer_jwt(value: &HeaderValue) -> Option<PresentedJwt> {
    let rest = value.as_bytes().get(7..)?;
    let start = 7 + (rest.len() - rest.trim_ascii_start().len());
    jwt_shaped(value, start..start + rest.trim_ascii().len())
}

/// The bytes at `at` in the header `value`, kept as a JWT when they have the shape of one (see
/// [`bearer_jwt`]).
#[cfg(feature = "jwt")]
fn jwt_shaped(value: &HeaderValue, at: Range<usize>) -> Option<PresentedJwt> {
    let token = value.as_bytes().get(at.clone())?;
    memchr::memchr(b'.', token)?;
    Some(PresentedJwt {
        header: value.clone(),
        start: at.start,
        len: token.len().min(super::MAX_TOKEN_LEN + 1),
    })
}

/// A presented JWT: a slice of the header that carried it. A header value shares its bytes
/// when cloned (a parsed request's headers are slices of one buffer), so keeping the JWT for
/// the session's first use copies nothing.
#[cfg(feature = "jwt")]
#[derive(Clone)]
pub(crate) struct PresentedJwt {
    header: HeaderValue,
    start: usize,
    len: usize,
}

#[cfg(feature = "jwt")]
impl std::fmt::Debug for PresentedJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A bearer credential: its length only.
        write!(f, "PresentedJwt(<redacted>, {} bytes)", self.len)
    }
}

#[cfg(feature = "jwt")]
impl std::ops::Deref for PresentedJwt {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        let bytes = self.header.as_bytes();
        bytes
            .get(self.start..self.start + self.len)
            .unwrap_or_default()
    }
}

/// `Some(token)` when the header uses the Bearer scheme (the token itself may be junk: `None`);
/// `None` for other schemes (Basic, …), which are the app's business.
fn bearer_token(value: &[u8]) -> Option<Option<SessionToken>> {
    const SCHEME: &[u8] = b"bearer ";
    if value.len() < SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let token = value[SCHEME.len()..].trim_ascii();
    Some(SessionToken::parse(token))
}

/// Finds the session cookie among the `Cookie` headers.
///
/// A `Cookie` request header is a plain list of `name=value` pairs separated by `;`
/// (RFC 6265 §4.2.1 and §5.4): finding one name needs no general cookie parser. The `cookie`
/// crate's parser builds a full `Cookie` per pair (about 100 ns a request, a tenth of the
/// layer's whole budget), and refuses a header with a single non-UTF-8 byte in someone else's
/// cookie. Working on bytes, this finds our pair in any header; the value is then judged by
/// [`SessionToken::parse`], which accepts exactly 43 base64url characters and nothing else.
/// `Set-Cookie` is still written by the `cookie` crate.
///
/// The name is searched with a substring finder built once per layer, jumping to each
/// occurrence of the whole name instead of walking every pair (browsers send every cookie of
/// the site, often hundreds of bytes of them). Searching for its first byte instead cost twice
/// as much on a typical browser header, as `_` (the start of `__Host-`) is common in other
/// cookies' names and values. The finder reports non-overlapping matches; none is lost that
/// matters, as a match reaching into a pair's start would have to hold the `;` or space before
/// it, which a cookie name cannot.
fn find_cookie(headers: &HeaderMap, name: &Finder<'_>, jwt: bool) -> Credential {
    let len = name.needle().len();
    let mut found: Option<(&HeaderValue, Range<usize>)> = None;
    for header in headers.get_all(COOKIE) {
        let bytes = header.as_bytes();
        for at in name.find_iter(bytes) {
            let Some(value) = pair_value(bytes, at, len) else {
                continue; // inside another cookie's name or value
            };
            if found.is_some() {
                // Two session cookies (cookie tossing from a sibling domain, or a stale path):
                // trust neither.
                return Credential::Cookie(None);
            }
            found = Some((header, value));
        }
    }
    let Some((header, at)) = found else {
        return Credential::Nothing;
    };
    let token = SessionToken::parse(&header.as_bytes()[at.clone()]);
    #[cfg(feature = "jwt")]
    if token.is_none() && jwt {
        if let Some(jwt) = jwt_shaped(header, at) {
            return Credential::CookieJwt(jwt);
        }
    }
    let _ = jwt;
    Credential::Cookie(token)
}

/// Where in `bytes` the value of the pair whose name starts at `at` and is `len` bytes long
/// stands, if the name stands at the start of a pair (after the header start or `;` and
/// optional spaces) and is followed by optional spaces and `=`.
fn pair_value(bytes: &[u8], at: usize, len: usize) -> Option<Range<usize>> {
    let before = bytes[..at].trim_ascii_end();
    if !(before.is_empty() || before.ends_with(b";")) {
        return None;
    }
    let rest = bytes[at + len..].trim_ascii_start().strip_prefix(b"=")?;
    let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
    let value = &rest[..end];
    let start = bytes.len() - rest.len() + (value.len() - value.trim_ascii_start().len());
    Some(start..start + value.trim_ascii().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    const NAME: &str = "__Host-session";

    fn name() -> Finder<'static> {
        Finder::new(NAME)
    }

    fn token() -> String {
        super::super::opaque::generate().unwrap().0.to_text()
    }

    #[test]
    fn bearer_wins_over_cookie() {
        let (b, c) = (token(), token());
        let map = headers(&[
            ("authorization", format!("Bearer {b}").as_bytes()),
            ("cookie", format!("{NAME}={c}").as_bytes()),
        ]);
        match Credential::find(&map, &name(), true, false, false) {
            Credential::Bearer(Some(t)) => assert_eq!(t.to_text(), b),
            other => panic!("{other:?}"),
        }
        match Credential::find(&map, &name(), false, false, false) {
            Credential::Cookie(Some(t)) => assert_eq!(t.to_text(), c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn junk_is_present_but_unusable() {
        let t = token();
        let cases: Vec<HeaderMap> = vec![
            headers(&[("authorization", b"Bearer junk")]),
            headers(&[("authorization", "Bearer ".repeat(4000).as_bytes())]),
            headers(&[
                ("authorization", format!("Bearer {t}").as_bytes()),
                ("authorization", format!("Bearer {t}").as_bytes()),
            ]),
        ];
        for map in cases {
            assert!(matches!(
                Credential::find(&map, &name(), true, false, false),
                Credential::Bearer(None)
            ));
        }
        let cookies: Vec<HeaderMap> = vec![
            headers(&[("cookie", format!("{NAME}=a; {NAME}={t}").as_bytes())]),
            headers(&[
                ("cookie", format!("{NAME}={t}").as_bytes()),
                ("cookie", format!("{NAME}={t}").as_bytes()),
            ]),
            headers(&[(
                "cookie",
                format!("{NAME}={}", "A".repeat(10_000)).as_bytes(),
            )]),
            headers(&[("cookie", b"__Host-session=\xff\xfe; x=1")]),
            headers(&[("cookie", format!("{NAME} = {t}; {NAME}={t}").as_bytes())]),
        ];
        for map in cookies {
            assert!(matches!(
                Credential::find(&map, &name(), true, false, false),
                Credential::Cookie(None)
            ));
        }
    }

    #[cfg(feature = "jwt")]
    #[test]
    fn jwt_shaped_bearer_values_are_kept_only_when_accepted() {
        let jwt = headers(&[("authorization", b"Bearer a.b.c")]);
        match Credential::find(&jwt, &name(), true, true, false) {
            Credential::Jwt(found) => {
                assert_eq!(&*found, b"a.b.c");
                // A bearer credential never shows in debug output.
                assert!(!format!("{found:?}").contains("a.b.c"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Credential::find(&jwt, &name(), true, false, false),
            Credential::Bearer(None)
        ));
        let t = token();
        let opaque = headers(&[("authorization", format!("Bearer {t}").as_bytes())]);
        assert!(matches!(
            Credential::find(&opaque, &name(), true, true, false),
            Credential::Bearer(Some(_))
        ));
        let twice = headers(&[
            ("authorization", b"Bearer a.b.c"),
            ("authorization", b"Bearer a.b.c"),
        ]);
        assert!(matches!(
            Credential::find(&twice, &name(), true, true, false),
            Credential::Bearer(None)
        ));
        let huge = format!("Bearer {}.x", "a".repeat(20_000));
        match Credential::find(
            &headers(&[("authorization", huge.as_bytes())]),
            &name(),
            true,
            true,
            false,
        ) {
            Credential::Jwt(found) => assert_eq!(found.len(), super::super::MAX_TOKEN_LEN + 1),
            other => panic!("{other:?}"),
        }
    }

    #[cfg(feature = "jwt")]
    #[test]
    fn jwt_shaped_cookies_are_kept_only_for_a_layer_of_jwt_cookies() {
        let jwt = headers(&[("cookie", format!("a=1; {NAME}=x.y.z; b=2").as_bytes())]);
        match Credential::find(&jwt, &name(), true, true, true) {
            Credential::CookieJwt(found) => assert_eq!(&*found, b"x.y.z"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Credential::find(&jwt, &name(), true, true, false),
            Credential::Cookie(None)
        ));
        // An opaque cookie stays opaque, and two cookies are still trusted neither way.
        let t = token();
        let opaque = headers(&[("cookie", format!("{NAME}={t}").as_bytes())]);
        assert!(matches!(
            Credential::find(&opaque, &name(), true, true, true),
            Credential::Cookie(Some(_))
        ));
        let twice = headers(&[("cookie", format!("{NAME}=x.y.z; {NAME}=x.y.z").as_bytes())]);
        assert!(matches!(
            Credential::find(&twice, &name(), true, true, true),
            Credential::Cookie(None)
        ));
    }

    #[test]
    fn other_cookies_and_schemes_are_ignored() {
        let t = token();
        let map = headers(&[
            ("authorization", b"Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
            (
                "cookie",
                format!("theme=caf\u{e9}; x=\u{1F36A}; {NAME}x=1; {NAME}={t}; other=1").as_bytes(),
            ),
        ]);
        assert!(matches!(
            Credential::find(&map, &name(), true, false, false),
            Credential::Cookie(Some(_))
        ));
        // The name inside another cookie's value, or as part of a longer name, is not ours.
        let map = headers(&[(
            "cookie",
            format!("x={NAME}={t}; a{NAME}={t}; {NAME}x={t};{NAME}={t}").as_bytes(),
        )]);
        match Credential::find(&map, &name(), true, false, false) {
            Credential::Cookie(Some(found)) => assert_eq!(found.to_text(), t),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Credential::find(&HeaderMap::new(), &name(), true, false, false),
            Credential::Nothing
        ));
    }

    /// How many pairs of a `Cookie` header carry our name, the plain RFC 6265 way: split at
    /// `;`, trim, and compare what comes before the first `=`.
    fn pairs_named_ours(header: &[u8]) -> usize {
        header
            .split(|&b| b == b';')
            .filter(|pair| {
                let pair = pair.trim_ascii();
                pair.iter()
                    .position(|&b| b == b'=')
                    .is_some_and(|eq| pair[..eq].trim_ascii() == NAME.as_bytes())
            })
            .count()
    }

    /// Random headers built from the pieces that matter (our name, parts of it, separators,
    /// spaces, token characters, other bytes), with our pair appended: never a panic, and the
    /// token is found exactly when no other pair carries our name.
    #[test]
    fn random_headers_agree_with_a_plain_split() {
        use rand::RngExt as _;
        let t = token();
        let pieces: [&[u8]; 12] = [
            NAME.as_bytes(),
            b"__Host-",
            b"session",
            b"_",
            b"=",
            b";",
            b"; ",
            b" ",
            b"x=1",
            t.as_bytes(),
            b"\xff\xfe",
            b"a",
        ];
        let mut rng = rand::rng();
        for _ in 0..20_000 {
            let mut header = Vec::new();
            for _ in 0..rng.random_range(0..12) {
                header.extend_from_slice(pieces[rng.random_range(0..pieces.len())]);
            }
            header.extend_from_slice(format!("; {NAME}={t}").as_bytes());
            let mut map = HeaderMap::new();
            map.append(COOKIE, HeaderValue::from_bytes(&header).unwrap());
            let shown = String::from_utf8_lossy(&header);
            match Credential::find(&map, &name(), true, false, false) {
                Credential::Cookie(Some(found)) => {
                    assert_eq!(pairs_named_ours(&header), 1, "{shown:?}");
                    assert_eq!(found.to_text(), t);
                }
                Credential::Cookie(None) => assert!(pairs_named_ours(&header) > 1, "{shown:?}"),
                other => panic!("{other:?} for {shown:?}"),
            }
        }
    }
}
