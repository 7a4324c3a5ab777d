//! A session record as the fields of one Redis hash, and back.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Value;
use serde_json::value::RawValue;

use crate::error::StoreError;
use crate::store::{SessionData, SessionRecord};
use crate::token::SessionId;

/// Field holding the current token hash (hex).
pub(super) const TOKEN: &str = "t";
/// Field holding the user; absent for an anonymous session.
pub(super) const USER: &str = "u";
const CREATED_AT: &str = "c";
const LAST_SEEN_AT: &str = "l";
/// Field holding the absolute deadline (ms since the epoch).
pub(super) const EXPIRES_AT: &str = "e";
const IDLE_EXPIRES_AT: &str = "x";
const USER_AGENT: &str = "a";
const IP: &str = "ip";
/// Prefix of the fields holding application data: `d:<key>` → JSON text.
pub(super) const DATA: &str = "d:";

/// Milliseconds since the Unix epoch (0 before it, saturating far after it).
pub(super) fn millis(t: SystemTime) -> u64 {
    let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// The field of application data key `key`.
pub(super) fn data_field(key: &str) -> String {
    format!("{DATA}{key}")
}

/// The fields of a new record: token hash, metadata, then one field per data key.
pub(super) fn encode(token_hex: String, record: &SessionRecord) -> Vec<(String, String)> {
    let mut fields = Vec::with_capacity(8 + record.data.len());
    fields.push((TOKEN.to_owned(), token_hex));
    if let Some(user) = &record.user {
        fields.push((USER.to_owned(), user.clone()));
    }
    for (name, at) in [
        (CREATED_AT, record.created_at),
        (LAST_SEEN_AT, record.last_seen_at),
        (EXPIRES_AT, record.expires_at),
        (IDLE_EXPIRES_AT, record.idle_expires_at),
    ] {
        fields.push((name.to_owned(), millis(at).to_string()));
    }
    if let Some(agent) = &record.user_agent {
        fields.push((USER_AGENT.to_owned(), agent.clone()));
    }
    if let Some(ip) = record.ip {
        fields.push((IP.to_owned(), ip.to_string()));
    }
    for (key, value) in record.data.iter() {
        fields.push((data_field(key), value.get().to_owned()));
    }
    fields
}

/// A decoded record with the token hash it is stored under.
#[derive(Debug)]
pub(super) struct Stored {
    /// The current token hash, hex.
    pub(super) token: String,
    pub(super) record: SessionRecord,
}

/// Decodes an `HGETALL` reply. An empty hash (no such key) is `Ok(None)`.
pub(super) fn decode(id: SessionId, reply: Value) -> Result<Option<Stored>, StoreError> {
    let pairs = pairs(reply)?;
    if pairs.is_empty() {
        return Ok(None);
    }
    let corrupt = |what: &str| StoreError::Corrupt(format!("Redis session {id}: {what}"));
    let mut token = None;
    let mut user = None;
    let (mut created, mut seen, mut expires, mut idle) = (None, None, None, None);
    let (mut user_agent, mut ip) = (None, None);
    let mut data = Vec::new();
    for (field, value) in pairs {
        let value = String::from_utf8(value).map_err(|_| corrupt("a field is not UTF-8 text"))?;
        if let Some(key) = field.strip_prefix(DATA.as_bytes()) {
            let key = String::from_utf8(key.to_vec())
                .map_err(|_| corrupt("a data key is not UTF-8 text"))?;
            let value = RawValue::from_string(value)
                .map_err(|_| corrupt(&format!("data key {key:?} is not JSON")))?;
            data.push((key, value));
            continue;
        }
        let time = |value: &str| {
            value
                .parse::<u64>()
                .ok()
                .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
                .ok_or_else(|| corrupt(&format!("bad timestamp {value:?}")))
        };
        match &field[..] {
            b"t" => token = Some(value),
            b"u" => user = Some(value),
            b"c" => created = Some(time(&value)?),
            b"l" => seen = Some(time(&value)?),
            b"e" => expires = Some(time(&value)?),
            b"x" => idle = Some(time(&value)?),
            b"a" => user_agent = Some(value),
            b"ip" => {
                ip = Some(
                    value
                        .parse::<IpAddr>()
                        .map_err(|_| corrupt(&format!("bad IP address {value:?}")))?,
                );
            }
            // Fields a later version may add.
            _ => {}
        }
    }
    let missing = |name: &str| corrupt(&format!("field {name:?} is missing"));
    Ok(Some(Stored {
        token: token.ok_or_else(|| missing(TOKEN))?,
        record: SessionRecord {
            id,
            user,
            data: data.into_iter().collect::<SessionData>(),
            created_at: created.ok_or_else(|| missing(CREATED_AT))?,
            last_seen_at: seen.ok_or_else(|| missing(LAST_SEEN_AT))?,
            expires_at: expires.ok_or_else(|| missing(EXPIRES_AT))?,
            idle_expires_at: idle.ok_or_else(|| missing(IDLE_EXPIRES_AT))?,
            user_agent,
            ip,
        },
    }))
}

/// One field of a hash and its value, as bytes.
type Pair = (Vec<u8>, Vec<u8>);

/// The field/value pairs of a hash reply: a flat array (RESP2) or a map (RESP3).
fn pairs(reply: Value) -> Result<Vec<Pair>, StoreError> {
    let bad = || StoreError::Corrupt("Redis returned an unexpected reply for a hash".to_owned());
    match reply {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(bad());
            }
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                out.push((bytes(field).ok_or_else(bad)?, bytes(value).ok_or_else(bad)?));
            }
            Ok(out)
        }
        Value::Map(items) => items
            .into_iter()
            .map(|(field, value)| Some((bytes(field)?, bytes(value)?)))
            .collect::<Option<_>>()
            .ok_or_else(bad),
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
mod tests {
    use super::*;

    fn sample() -> SessionRecord {
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
        let reply = as_reply(encode("ab".to_owned(), &record));
        let stored = decode(record.id, reply).unwrap().unwrap();
        assert_eq!(stored.token, "ab");
        assert_eq!(stored.record, record);
        assert!(decode(record.id, Value::Array(vec![])).unwrap().is_none());
    }

    #[test]
    fn bad_data_is_corrupt_not_a_panic() {
        let record = sample();
        type Damage = Box<dyn Fn(&mut Vec<(String, String)>)>;
        let cases: Vec<Damage> = vec![
            Box::new(|f| f.retain(|(n, _)| n != "c")),
            Box::new(|f| f.push(("e".into(), "soon".into()))),
            Box::new(|f| f.push(("e".into(), "-5".into()))),
            Box::new(|f| f.push(("ip".into(), "nowhere".into()))),
            Box::new(|f| f.push(("d:x".into(), "{not json".into()))),
            Box::new(|f| f.retain(|(n, _)| n != "t")),
        ];
        for case in cases {
            let mut fields = encode("ab".to_owned(), &record);
            case(&mut fields);
            let got = decode(record.id, as_reply(fields));
            assert!(matches!(got, Err(StoreError::Corrupt(_))), "{got:?}");
        }
        let odd = Value::Array(vec![Value::BulkString(b"t".to_vec())]);
        assert!(matches!(
            decode(record.id, odd),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode(record.id, Value::Int(3)),
            Err(StoreError::Corrupt(_))
        ));
    }
}
