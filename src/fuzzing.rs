//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`); not a stable API.
//!
//! Each function takes any bytes, must never panic, checks cheap invariants of what it parsed,
//! and returns whether some form of the input was accepted (`tests/fuzz_seeds.rs` requires it
//! of the seeds named `valid*`).

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue};
use memchr::memmem::Finder;

use crate::token::Presented;
use crate::token::{Credential, SessionId, SessionToken};

/// `data` as lines, `Authorization: <value>` or `Cookie: <value>` (any other line is a whole
/// cookie value), found with every flag combination of `Credential::find` under two cookie
/// names, and checked against a plain reading of the headers (see `expected`).
pub fn request_headers(data: &[u8]) -> bool {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        // Spaces after the colon are not part of the value, as HTTP parsers read it.
        let (name, value) = match strip_name(line, b"authorization:") {
            Some(value) => (AUTHORIZATION, value.trim_ascii_start()),
            None => match strip_name(line, b"cookie:") {
                Some(value) => (COOKIE, value.trim_ascii_start()),
                None => (COOKIE, line),
            },
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    let mut accepted = false;
    for name in ["__Host-session", "s"] {
        for flags in 0..8u8 {
            let flags = [flags & 1 != 0, flags & 2 != 0, flags & 4 != 0];
            let [bearer, jwt, cookie_jwt] = flags;
            let found = Credential::find(&headers, &Finder::new(name), bearer, jwt, cookie_jwt);
            let bytes = match &found {
                Credential::Nothing => None,
                Credential::Cookie(token) | Credential::Bearer(token) => {
                    token.as_ref().map(|token| token.to_text().into_bytes())
                }
                #[cfg(feature = "jwt")]
                Credential::Jwt(kept) | Credential::CookieJwt(kept) => Some(kept.to_vec()),
            };
            accepted |= bytes.is_some();
            let want = expected(&headers, name, flags);
            assert_eq!((found.presented(), bytes), want, "{name:?}, {flags:?}");
        }
    }
    accepted
}

fn strip_name<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let head = line.get(..name.len())?;
    head.eq_ignore_ascii_case(name).then(|| &line[name.len()..])
}

/// How a credential is presented and its bytes when usable, read the plain way: the first
/// `Authorization` header when it is a `Bearer` one (none when there are two), else the value
/// of the one `;`-separated pair of the `Cookie` headers named `name` (none when several are).
fn expected(headers: &HeaderMap, name: &str, flags: [bool; 3]) -> (Presented, Option<Vec<u8>>) {
    let [bearer, jwt, cookie_jwt] = flags;
    let first = headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
    if let Some(value) = first
        .filter(|_| bearer)
        .and_then(|v| strip_name(v, b"bearer "))
    {
        let single = headers.get_all(AUTHORIZATION).iter().count() == 1;
        return (
            Presented::Bearer,
            usable(value.trim_ascii(), jwt).filter(|_| single),
        );
    }
    let mut pairs = headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|header| header.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = memchr::memchr(b'=', pair)?;
            (pair[..eq].trim_ascii() == name.as_bytes()).then(|| pair[eq + 1..].trim_ascii())
        });
    match (pairs.next(), pairs.next()) {
        (None, _) => (Presented::Nothing, None),
        (Some(value), None) => (Presented::Cookie, usable(value, cookie_jwt)),
        (Some(_), Some(_)) => (Presented::Cookie, None),
    }
}

/// A lone `value` as a credential: an opaque token, or with `keep_jwt` a JWT-shaped value (a
/// dot), cut one byte past the size limit.
fn usable(value: &[u8], keep_jwt: bool) -> Option<Vec<u8>> {
    if SessionToken::parse(value).is_some() {
        return Some(value.to_vec());
    }
    #[cfg(feature = "jwt")]
    if keep_jwt && memchr::memchr(b'.', value).is_some() {
        return Some(value[..value.len().min(crate::token::MAX_TOKEN_LEN + 1)].to_vec());
    }
    let _ = keep_jwt;
    None
}

/// `data` verified as an access token and as a session cookie's JWT (HS256 key `[7; 32]`,
/// issuer `https://auth.example`, audience `api`, at 1 700 000 000 s), as is and signed
/// afresh: `<header JSON>\n<claims JSON>` encoded and signed, or else everything before the
/// last dot signed, so the checks after the signature see the input too.
#[cfg(feature = "jwt")]
pub fn jwt(data: &[u8]) -> bool {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    use std::sync::LazyLock;
    use std::time::{Duration, UNIX_EPOCH};

    use crate::token::{has_cookie_type, AccessTokens, KeyRing};

    static TOKENS: LazyLock<AccessTokens> = LazyLock::new(|| {
        let ring = KeyRing::from_secret([7u8; 32]).expect("32 bytes make an HS256 key");
        AccessTokens::new(ring)
            .issuer("https://auth.example")
            .audience("api")
    });
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let check = |token: &[u8]| {
        let (access, cookie) = (TOKENS.verify(token, now), TOKENS.verify_cookie(token, now));
        // Never both, and a JWT the layer takes for a cookie by its type is no access token.
        assert!(access.is_err() || cookie.is_err() && !has_cookie_type(token));
        if let Ok(claims) = &access {
            assert!(claims.exp.saturating_add(10) >= 1_700_000_000 && claims.nbf <= 1_700_000_010);
            assert!(claims.iss.as_deref() == Some("https://auth.example"));
            assert!(claims.aud.iter().any(|aud| aud == "api"));
        }
        access.is_ok() || cookie.is_ok()
    };
    let signed = |part: &[u8]| {
        let key = TOKENS.key_ring().current();
        let mut token = part.to_vec();
        token.push(b'.');
        token.extend(URL_SAFE_NO_PAD.encode(key.sign(part)?).into_bytes());
        Some(token)
    };
    let resigned = match data.iter().position(|&b| b == b'\n') {
        Some(newline) => {
            let (header, claims) = (&data[..newline], &data[newline + 1..]);
            let part = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims)
            );
            signed(part.as_bytes())
        }
        None => data
            .iter()
            .rposition(|&b| b == b'.')
            .and_then(|dot| signed(&data[..dot])),
    };
    check(data) | resigned.is_some_and(|token| check(&token))
}

/// `data` as a refresh token: one that parses is its input, and its parts parse alone.
#[cfg(feature = "jwt")]
pub fn refresh_token(data: &[u8]) -> bool {
    let Some(token) = std::str::from_utf8(data)
        .ok()
        .and_then(crate::token::RefreshToken::parse)
    else {
        return false;
    };
    let (text, secret) = (token.as_str(), SessionToken::parse(&data[23..]));
    assert!(text.as_bytes() == data && token.session_id().to_string() == text[..22]);
    assert!(secret.is_some_and(|secret| secret.hash() != token.hash()));
    true
}

/// `data` as a session token, as a session id, and as a session id's JSON: each one that
/// parses writes back the same text.
pub fn session_token(data: &[u8]) -> bool {
    let token = SessionToken::parse(data);
    if let Some(token) = &token {
        assert_eq!(token.to_text().as_bytes(), data);
        assert_eq!(token.hash().to_hex().len(), 64);
    }
    let id = std::str::from_utf8(data).ok().and_then(SessionId::parse);
    if let Some(id) = id {
        assert_eq!(id.to_string().as_bytes(), data);
    }
    let json = serde_json::from_slice::<SessionId>(data).ok();
    if let Some(id) = json {
        let text = serde_json::to_string(&id).expect("an id serializes");
        assert_eq!(serde_json::from_str::<SessionId>(&text).ok(), Some(id));
    }
    token.is_some() || id.is_some() || json.is_some()
}

/// `data` decoded as the stores read a record: the fields of a Redis hash (separated by NUL
/// bytes: field, value, field, value…) and a SQL data column (JSON text). A decoded record or
/// data column encodes back to one that decodes to the same.
#[cfg(any(
    feature = "redis",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql"
))]
pub fn stored_record(data: &[u8]) -> bool {
    let mut accepted = false;
    #[cfg(feature = "redis")]
    {
        use crate::store::redis::codec::{decode, encode};
        use ::redis::Value;
        let reply = |fields: Vec<Vec<u8>>| {
            Value::Array(fields.into_iter().map(Value::BulkString).collect())
        };
        if let Ok(Some(record)) =
            decode(reply(data.split(|&b| b == 0).map(<[u8]>::to_vec).collect()))
        {
            let fields = encode(&record)
                .into_iter()
                .flat_map(|(f, v)| [f.into_bytes(), v.into_bytes()]);
            assert_eq!(
                decode(reply(fields.collect())).ok().flatten().as_ref(),
                Some(&record)
            );
            #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
            sql_data_round_trips(&record.data);
            accepted = true;
        }
    }
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    if let Some(decoded) = std::str::from_utf8(data)
        .ok()
        .and_then(|text| crate::store::sql::decode_data(text).ok())
    {
        sql_data_round_trips(&decoded);
        accepted = true;
    }
    accepted
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn sql_data_round_trips(data: &crate::store::SessionData) {
    use crate::store::sql::{decode_data, encode_data};
    let column = encode_data(data).expect("decoded data encodes");
    assert_eq!(decode_data(&column).ok().as_ref(), Some(data));
}
