//! The data column of every SQL engine.
//!
//! Every engine keeps a session's data as one JSON object that maps each key to its value's
//! JSON text *as a JSON string*: `{"theme":"\"dark\"","cart":"[1,2]"}`. Two reasons:
//!
//! - the value comes back byte for byte. PostgreSQL's `jsonb` and MySQL's `JSON` normalise what
//!   they store (`[1,2]` reads back as `[1, 2]`, keys are reordered, `1e2` becomes `100`), and
//!   [`SessionData`] holds values as JSON text;
//! - a per-key update is one RFC 7396 merge patch (`json_patch`, `JSON_MERGE_PATCH`) or a
//!   `jsonb` concatenation, all with bound parameters: a removed key is `null` in the patch, and
//!   a stored JSON `null` is the string `"null"`, so it can never be mistaken for a removal.
//!
//! A value stays readable from SQL: `(data->>'theme')::jsonb` in PostgreSQL, `data->>'theme'`
//! in SQLite, `JSON_UNQUOTE(JSON_EXTRACT(data, '$.theme'))` in MySQL.

use std::fmt;

use serde::ser::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::error::StoreError;
use crate::store::SessionData;

/// A JSON object from key/value pairs; a `None` value is `null`.
struct Object<'a>(&'a [(&'a str, Option<&'a str>)]);

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

pub(crate) fn to_json(pairs: &[(&str, Option<&str>)]) -> Result<String, StoreError> {
    serde_json::to_string(&Object(pairs)).map_err(StoreError::backend)
}

/// The data column of a new session (see the module docs).
pub(crate) fn encode_data(data: &SessionData) -> Result<String, StoreError> {
    let pairs: Vec<(&str, Option<&str>)> = data.iter().map(|(k, v)| (k, Some(v.get()))).collect();
    to_json(&pairs)
}

/// The data column read back: a JSON object of JSON texts.
pub(crate) fn decode_data(column: &str) -> Result<SessionData, StoreError> {
    use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
    use std::borrow::Cow;

    /// A string borrowed from the column when it holds no escapes (serde's own `Cow`
    /// always copies).
    struct Text<'de>(Cow<'de, str>);

    impl<'de> Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Borrowing;
            impl<'de> Visitor<'de> for Borrowing {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Owned(v)))
                }
            }
            d.deserialize_str(Borrowing)
        }
    }

    /// Reads the object's entries straight into the data: keys and values are borrowed from
    /// the column where they hold no escapes, and only the value's text is copied, once.
    struct Entries;

    impl<'de> Visitor<'de> for Entries {
        type Value = SessionData;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of JSON texts")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SessionData, A::Error> {
            let mut data = SessionData::default();
            while let Some((Text(key), Text(text))) = map.next_entry()? {
                let value = RawValue::from_string(text.into_owned())
                    .map_err(|err| A::Error::custom(format!("data value: {err}")))?;
                // A key given twice keeps its last value.
                data.insert_raw(&key, value);
            }
            Ok(data)
        }
    }

    let mut json = serde_json::Deserializer::from_str(column);
    json.deserialize_map(Entries)
        .and_then(|data| json.end().map(|()| data))
        .map_err(|err| StoreError::Corrupt(format!("data column: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_column_decodes_escapes_and_refuses_what_is_not_an_object_of_json_texts() {
        let data = decode_data(r#"{"a\"b":"[1,2]","n":"1","n":"2","\u00e9":"\"x\""}"#).unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data.get_raw("a\"b").map(RawValue::get), Some("[1,2]"));
        // A key given twice keeps its last value.
        assert_eq!(data.get_raw("n").map(RawValue::get), Some("2"));
        assert_eq!(data.get_raw("é").map(RawValue::get), Some("\"x\""));
        assert!(decode_data("{}").unwrap().is_empty());
        for bad in [
            "",
            "null",
            "[]",
            r#"{"a":1}"#,
            r#"{"a":"not json"}"#,
            r#"{"a":"1"} trailing"#,
            r#"{"a":"1""#,
        ] {
            assert!(
                matches!(decode_data(bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn data_round_trips_exactly() {
        let mut data = SessionData::default();
        for (key, text) in [
            ("a", "null"),
            ("b.\"c\"", "[1,2]"),
            ("ключ", "{\"x\": 1e2}"),
            ("", "\"\\u0000\""),
        ] {
            data.insert_raw(key, RawValue::from_string(text.to_owned()).unwrap());
        }
        let back = decode_data(&encode_data(&data).unwrap()).unwrap();
        assert_eq!(back, data);
        assert!(matches!(decode_data("[]"), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            decode_data(r#"{"a":"not json"}"#),
            Err(StoreError::Corrupt(_))
        ));
    }
}
