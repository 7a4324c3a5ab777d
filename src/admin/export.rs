//! A listing's columns, and the two ways it is written: JSON and CSV. Both come from one list
//! of columns, so a new column is one line in [`COLUMNS`].

use std::time::SystemTime;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::store::SessionRecord;

/// How a column reads its cell from a record, as of the listing's `now`; `None` is empty
/// (`null` in JSON).
type Cell = fn(&SessionRecord, SystemTime) -> Option<String>;

/// The listing's columns, in order. Never a token, a token hash or session data: only what an
/// admin needs to recognise a session and end it.
const COLUMNS: &[(&str, Cell)] = &[
    ("id", |r, _| Some(r.id.to_string())),
    ("user", |r, _| r.user.clone()),
    ("state", |r, now| {
        Some(
            if r.is_active(now) {
                "active"
            } else {
                "expired"
            }
            .to_owned(),
        )
    }),
    ("created_at", |r, _| Some(rfc3339(r.created_at))),
    ("last_seen_at", |r, _| Some(rfc3339(r.last_seen_at))),
    ("expires_at", |r, _| Some(rfc3339(r.expires_at))),
    ("idle_expires_at", |r, _| Some(rfc3339(r.idle_expires_at))),
    ("user_agent", |r, _| r.user_agent.clone()),
    ("ip", |r, _| r.ip.map(|ip| ip.to_string())),
    // Why and when an inactive session ended: its expiry, or (with a store that retains ended
    // sessions) a logout, revocation or eviction. Empty while active.
    ("ended_at", |r, now| r.end(now).map(|end| rfc3339(end.at))),
    ("end_reason", |r, now| {
        r.end(now).map(|end| end.reason.as_str().to_owned())
    }),
];

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

/// One record as a JSON object, a key per column.
pub(crate) fn json_row(record: &SessionRecord, now: SystemTime) -> Value {
    let row: Map<String, Value> = COLUMNS
        .iter()
        .map(|(name, cell)| {
            let value = cell(record, now).map_or(Value::Null, Value::String);
            ((*name).to_owned(), value)
        })
        .collect();
    Value::Object(row)
}

/// The records as CSV (RFC 4180, with a header row), every cell made safe to open in a
/// spreadsheet.
pub(crate) fn csv(records: &[SessionRecord], now: SystemTime) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS.iter().map(|(name, _)| *name))?;
    for record in records {
        out.write_record(COLUMNS.iter().map(|(_, cell)| {
            cell(record, now)
                .map(|text| neutralise(&text))
                .unwrap_or_default()
        }))?;
    }
    out.into_inner().map_err(|err| err.into_error().into())
}

/// A spreadsheet reads a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
/// return before one) as a formula, which can run commands or leak data when the export is
/// opened. A leading `'` makes it text (OWASP's advice for CSV injection); a user agent or user
/// name is whatever a client sent, so every cell is treated this way.
pub(crate) fn neutralise(cell: &str) -> String {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_starts_are_made_text() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(cell), format!("'{cell}"));
        }
        for cell in ["alice", "1-2", "", "a=b"] {
            assert_eq!(neutralise(cell), cell);
        }
    }
}
