//! A session record as the fields of one Redis hash, and back.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Value;
use serde_json::value::RawValue;

use crate::error::StoreError;
use crate::store::{EndReason, Ended, SessionData, SessionRecord, SessionTerms};
use crate::token::SessionId;

/// Field holding the metadata packed into one string (see [`encode`]).
pub(super) const META: &str = "m";
/// Field holding the user; absent for an anonymous session.
pub(super) const USER: &str = "u";
/// Prefix of the fields holding application data: `d:<key>` → JSON text.
pub(super) const DATA: &str = "d:";
/// Field holding the [`SessionTerms`] a timeout policy granted (see [`terms_value`]); absent
/// for a session on the layer's own timeouts.
pub(super) const TERMS: &str = "t";
/// Field holding the end of a session kept after it ended (retention; see [`end_value`]);
/// absent for a session nobody ended. The scripts test for it by name.
pub(super) const END: &str = "e";

/// Width of each timestamp in [`META`]: milliseconds since the epoch, zero-padded.
const STAMP: usize = 16;
/// Where the public id starts in [`META`], after four timestamps.
const ID_AT: usize = 4 * STAMP;
/// Where the optional IP address and user agent start in [`META`], after the id.
const TAIL_AT: usize = ID_AT + 22;

/// A timestamp as [`META`] and the scripts hold it: 16 zero-padded digits of milliseconds.
pub(super) fn stamp(t: SystemTime) -> String {
    let mut text = String::with_capacity(STAMP);
    push_stamp(&mut text, t);
    text
}

/// Appends [`stamp`] of `t` to `out`. Written digit by digit: `format!` with a zero-padded
/// width cost about 800 instructions a stamp, and a new record has four.
fn push_stamp(out: &mut String, t: SystemTime) {
    let mut ms = millis(t).min(10u64.pow(STAMP as u32) - 1);
    let mut digits = [b'0'; STAMP];
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (ms % 10) as u8;
        ms /= 10;
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
}

/// Milliseconds since the Unix epoch (0 before it, saturating far after it).
pub(super) fn millis(t: SystemTime) -> u64 {
    let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// The field of application data key `key`.
pub(super) fn data_field(key: &str) -> String {
    format!("{DATA}{key}")
}

/// The fields of a record: the metadata, the user, then one field per data key.
///
/// The metadata is one field (fewer fields make a cheaper reply to parse), laid out so the
/// scripts can read and replace the deadlines by position: absolute deadline, idle deadline,
/// last seen, created (each [`stamp`]), the public id (22 characters), then, if known, the IP
/// address and, after one space, the user agent. A record without an IP address but with a
/// user agent writes `-` for the address.
// The store writes fields in place (`encode_into`); this list serves the fuzz target and the
// tests, which compare against it.
#[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
pub(crate) fn encode(record: &SessionRecord) -> Vec<(String, String)> {
    let mut fields = Vec::with_capacity(2 + record.data.len());
    encode_into(record, &mut fields);
    fields
}

/// Where [`encode_into`] writes a record's fields, each a name and its value: a list, or
/// straight into the arguments of the script that stores them.
pub(super) trait Fields {
    /// Adds the field `name`.
    fn field(&mut self, name: &str, value: &str);
    /// Adds the field of application data key `key` (see [`data_field`]).
    fn data_field(&mut self, key: &str, value: &str);
}

impl Fields for Vec<(String, String)> {
    fn field(&mut self, name: &str, value: &str) {
        self.push((name.to_owned(), value.to_owned()));
    }
    fn data_field(&mut self, key: &str, value: &str) {
        self.push((data_field(key), value.to_owned()));
    }
}

/// Writes the fields of [`encode`] into `out`, without a string of their own for the fields
/// that already have one in the record.
pub(super) fn encode_into(record: &SessionRecord, out: &mut impl Fields) {
    let mut meta = String::with_capacity(TAIL_AT + 48);
    for at in [
        record.expires_at,
        record.idle_expires_at,
        record.last_seen_at,
        record.created_at,
    ] {
        push_stamp(&mut meta, at);
    }
    meta.push_str(record.id.text_in(&mut Default::default()));
    match record.ip {
        Some(ip) => {
            use std::fmt::Write as _;
            let _ = write!(meta, "{ip}");
        }
        None if record.user_agent.is_some() => meta.push('-'),
        None => {}
    }
    if let Some(agent) = &record.user_agent {
        meta.push(' ');
        meta.push_str(agent);
    }
    out.field(META, &meta);
    if let Some(user) = &record.user {
        out.field(USER, user);
    }
    if let Some(terms) = &record.terms {
        out.field(TERMS, &terms_value(terms));
    }
    if let Some(ended) = &record.ended {
        out.field(END, &end_value(ended));
    }
    for (key, value) in record.data.iter() {
        out.data_field(key, value.get());
    }
}

/// The [`TERMS`] field's value: the idle timeout in milliseconds, `:`, then `1` for a
/// persistent cookie or `0`.
pub(super) fn terms_value(terms: &SessionTerms) -> String {
    format!(
        "{}:{}",
        terms.idle_timeout_millis(),
        u8::from(terms.persistent)
    )
}

/// The [`END`] field's value: when the session ended ([`stamp`]), then the reason's name.
pub(super) fn end_value(ended: &Ended) -> String {
    format!("{}{}", stamp(ended.at), ended.reason.as_str())
}

/// Reads an [`END`] value; `None` if it is not laid out as [`end_value`] writes it.
fn parse_end(value: &str) -> Option<Ended> {
    let ms: u64 = value.get(..STAMP)?.parse().ok()?;
    let reason = EndReason::parse(value.get(STAMP..)?)?;
    Some(Ended::new(
        UNIX_EPOCH.checked_add(Duration::from_millis(ms))?,
        reason,
    ))
}

/// Reads a [`TERMS`] value; `None` if it is not laid out as [`terms_value`] writes it.
fn parse_terms(value: &str) -> Option<SessionTerms> {
    let (idle, persistent) = value.split_once(':')?;
    Some(SessionTerms {
        idle_timeout: Duration::from_millis(idle.parse().ok()?),
        persistent: match persistent {
            "1" => true,
            "0" => false,
            _ => return None,
        },
    })
}

/// The metadata of a record, unpacked from [`META`].
pub(super) struct Meta {
    pub(super) id: SessionId,
    pub(super) expires_at: SystemTime,
    idle_expires_at: SystemTime,
    last_seen_at: SystemTime,
    created_at: SystemTime,
    ip: Option<IpAddr>,
    user_agent: Option<String>,
}

impl Meta {
    /// Unpacks [`META`]; `None` if it is not laid out as [`encode`] writes it.
    pub(super) fn parse(meta: &str) -> Option<Self> {
        let time = |i: usize| {
            let digits = meta.as_bytes().get(i * STAMP..(i + 1) * STAMP)?;
            // Exactly `STAMP` ASCII digits, as `stamp` writes them (16 digits cannot overflow
            // a u64): a loop the compiler unrolls, where `str::parse` also looks for a sign.
            let ms = digits.iter().try_fold(0u64, |ms, &d| {
                d.is_ascii_digit().then(|| ms * 10 + u64::from(d - b'0'))
            })?;
            UNIX_EPOCH.checked_add(Duration::from_millis(ms))
        };
        let id = SessionId::parse(meta.get(ID_AT..TAIL_AT)?)?;
        let tail = meta.get(TAIL_AT..)?;
        let (ip, user_agent) = match tail.split_once(' ') {
            Some((ip, agent)) => (ip, Some(agent.to_owned())),
            None => (tail, None),
        };
        let ip = match ip {
            "" | "-" => None,
            ip => Some(ip.parse().ok()?),
        };
        Some(Self {
            id,
            expires_at: time(0)?,
            idle_expires_at: time(1)?,
            last_seen_at: time(2)?,
            created_at: time(3)?,
            ip,
            user_agent,
        })
    }
}

/// `HGETALL key`: the read of a record, whose reply [`decode`] takes. Its buffers are sized up
/// front (`redis::cmd` grows them argument by argument, a reallocation on the way), as this
/// runs on every request that loads its session.
pub(super) fn hgetall(key: &str) -> redis::Cmd {
    let mut cmd = redis::Cmd::with_capacity(2, "HGETALL".len() + key.len());
    cmd.arg("HGETALL").arg(key);
    cmd
}

/// Decodes an `HGETALL` reply. An empty hash (no such key) is `Ok(None)`.
///
/// The reply is walked field by field and each value moves straight into the record: no list
/// of pairs, no copy of a data key (only of its value, into the data's shared form).
pub(crate) fn decode(reply: Value) -> Result<Option<SessionRecord>, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("a Redis session record: {what}"));
    let mut meta = None;
    let mut user = None;
    let mut terms = None;
    let mut ended = None;
    let mut data = SessionData::default();
    let fields = for_each_field(reply, |field, value| {
        let value = String::from_utf8(value).map_err(|_| corrupt("a field is not UTF-8 text"))?;
        if let Some(key) = field.strip_prefix(DATA.as_bytes()) {
            let key =
                std::str::from_utf8(key).map_err(|_| corrupt("a data key is not UTF-8 text"))?;
            let value = RawValue::from_string(value)
                .map_err(|_| corrupt(&format!("data key {key:?} is not JSON")))?;
            data.insert_raw(key, value);
            return Ok(());
        }
        match &field[..] {
            b"m" => {
                meta = Some(
                    Meta::parse(&value)
                        .ok_or_else(|| corrupt(&format!("bad metadata {value:?}")))?,
                );
            }
            b"u" => user = Some(value),
            b"t" => {
                terms = Some(
                    parse_terms(&value).ok_or_else(|| corrupt(&format!("bad terms {value:?}")))?,
                );
            }
            b"e" => {
                ended =
                    Some(parse_end(&value).ok_or_else(|| corrupt(&format!("bad end {value:?}")))?);
            }
            // Fields a later version may add.
            _ => {}
        }
        Ok(())
    })?;
    if fields == 0 {
        return Ok(None);
    }
    let meta = meta.ok_or_else(|| corrupt("the metadata field is missing"))?;
    Ok(Some(SessionRecord {
        id: meta.id,
        user,
        data,
        created_at: meta.created_at,
        last_seen_at: meta.last_seen_at,
        expires_at: meta.expires_at,
        idle_expires_at: meta.idle_expires_at,
        user_agent: meta.user_agent,
        ip: meta.ip,
        terms,
        ended,
    }))
}

/// Hands each field and value of a hash reply (a flat array in RESP2, a map in RESP3) to
/// `each`, as bytes; returns how many there were.
fn for_each_field(
    reply: Value,
    mut each: impl FnMut(Vec<u8>, Vec<u8>) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    let bad = || StoreError::Corrupt("Redis returned an unexpected reply for a hash".to_owned());
    let mut pair =
        |field, value| each(bytes(field).ok_or_else(bad)?, bytes(value).ok_or_else(bad)?);
    match reply {
        Value::Nil => Ok(0),
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(bad());
            }
            let count = items.len() / 2;
            let mut items = items.into_iter();
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                pair(field, value)?;
            }
            Ok(count)
        }
        Value::Map(items) => {
            let count = items.len();
            for (field, value) in items {
                pair(field, value)?;
            }
            Ok(count)
        }
        _ => Err(bad()),
    }
}

/// The bytes of a string reply.
pub(super) fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        Value::Okay => Some(b"OK".to_vec()),
        _ => None,
    }
}

/// The text of a string reply.
pub(super) fn text(value: Value) -> Option<String> {
    bytes(value).and_then(|b| String::from_utf8(b).ok())
}

/// The integer of an integer (or numeric string) reply.
pub(super) fn int(value: Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(n),
        other => text(other)?.parse().ok(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn stamps_are_sixteen_zero_padded_digits_of_milliseconds() {
        let at = |ms| UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(stamp(at(1_733_500_000_123)), "0001733500000123");
        assert_eq!(stamp(UNIX_EPOCH), "0000000000000000");
        assert_eq!(
            stamp(UNIX_EPOCH - Duration::from_secs(1)),
            "0000000000000000"
        );
        assert_eq!(stamp(at(u64::MAX / 4)), "9999999999999999");
        let mut meta = "x".to_owned();
        push_stamp(&mut meta, at(42));
        assert_eq!(meta, "x0000000000000042");
    }

    pub(in crate::store::redis) fn sample() -> SessionRecord {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        SessionRecord {
            id: SessionId([3; 16]),
            user: Some("a:{b}\"ü".to_owned()),
            data: [(
                "k:{x}\"é".to_owned(),
                RawValue::from_string(r#"{"a":[1,"}"]}"#.to_owned()).unwrap(),
            )]
            .into_iter()
            .collect(),
            created_at: at,
            last_seen_at: at,
            expires_at: at + Duration::from_secs(3600),
            idle_expires_at: at + Duration::from_secs(600),
            user_agent: Some("ua".to_owned()),
            ip: Some("::1".parse().unwrap()),
            ended: None,
            terms: Some(SessionTerms {
                idle_timeout: Duration::from_millis(900_123),
                persistent: true,
            }),
        }
    }

    fn as_reply(fields: Vec<(String, String)>) -> Value {
        Value::Array(
            fields
                .into_iter()
                .flat_map(|(f, v)| [Value::BulkString(f.into()), Value::BulkString(v.into())])
                .collect(),
        )
    }

    #[test]
    fn round_trip() {
        let record = sample();
        let reply = as_reply(encode(&record));
        assert_eq!(decode(reply).unwrap().unwrap(), record);
        assert!(decode(Value::Array(vec![])).unwrap().is_none());
    }

    #[test]
    fn a_record_without_terms_has_no_terms_field() {
        let mut record = sample();
        record.terms = None;
        let fields = encode(&record);
        assert!(fields.iter().all(|(name, _)| name != TERMS));
        assert_eq!(decode(as_reply(fields)).unwrap().unwrap(), record);
    }

    #[test]
    fn an_end_round_trips_for_every_reason() {
        for reason in EndReason::ALL {
            let mut record = sample();
            record.ended = Some(Ended::new(record.created_at, reason));
            assert_eq!(decode(as_reply(encode(&record))).unwrap().unwrap(), record);
        }
        let mut fields = encode(&sample());
        fields.push((END.to_owned(), "12revoked".to_owned()));
        assert!(matches!(
            decode(as_reply(fields)),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn metadata_round_trips_with_and_without_client_details() {
        let mut record = sample();
        for (ip, agent) in [
            (None, None),
            (None, Some("a b  c")),
            (Some("10.0.0.1"), None),
            (Some("::1"), Some("")),
        ] {
            record.ip = ip.map(|ip| ip.parse().unwrap());
            record.user_agent = agent.map(str::to_owned);
            let got = decode(as_reply(encode(&record))).unwrap().unwrap();
            assert_eq!(got, record);
        }
    }

    #[test]
    fn bad_data_is_corrupt_not_a_panic() {
        let record = sample();
        let meta = encode(&record)[0].1.clone();
        let cases = [
            ("m", "soon".to_owned()),
            ("m", format!("x{}", &meta[1..])),
            ("m", format!("{}!!{}", &meta[..64], &meta[66..])),
            ("m", format!("{}nowhere", &meta[..86])),
            ("d:x", "{not json".to_owned()),
            ("t", "900000".to_owned()),
            ("t", "soon:1".to_owned()),
            ("t", "900000:yes".to_owned()),
        ];
        for (field, value) in cases {
            let mut fields = encode(&record);
            fields.push((field.to_owned(), value));
            let got = decode(as_reply(fields));
            assert!(matches!(got, Err(StoreError::Corrupt(_))), "{got:?}");
        }
        let mut fields = encode(&record);
        fields.retain(|(n, _)| n != "m");
        assert!(matches!(
            decode(as_reply(fields)),
            Err(StoreError::Corrupt(_))
        ));
        let odd = Value::Array(vec![Value::BulkString(b"m".to_vec())]);
        assert!(matches!(decode(odd), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode(Value::Int(3)), Err(StoreError::Corrupt(_))));
    }
}
