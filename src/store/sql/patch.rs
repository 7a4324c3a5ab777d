//! A [`SessionPatch`] as SQL: its parameters, and the `SET` lists of `update` and `rotate`.
//!
//! Every SQL store assigns only the groups of columns a patch changes (data, user, deadlines),
//! each combination of groups a statement of its own (eight per operation, prepared once per
//! connection). A request that changes one key then assigns one column. Assigning every column
//! (indexed ones included, even to the values they hold) made a SQLite update take 22 µs against
//! 11.5 µs in a WAL database here, and cost MariaDB ~15 µs. PostgreSQL numbers its parameters
//! and merges data with one of them (two when keys are removed: sixteen statements per
//! operation), so its statements are built in `postgres_patch`.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
use sqlx::{query::Query, Database, Encode, Type};

use super::{millis, terms_millis, to_json};
use crate::error::StoreError;
use crate::store::SessionPatch;

/// A [`SessionPatch`] as statement parameters, shared by `update` and `rotate`.
pub(crate) struct PatchParams<'a> {
    /// The final change of each key (a later change of a key replaces an earlier one).
    changes: BTreeMap<&'a str, Option<&'a str>>,
    /// Whether the patch sets the user; if so, `user` is the new one.
    pub user_changed: bool,
    /// The new user when `user_changed`.
    pub user: Option<&'a str>,
    /// New `last_seen_at` in milliseconds; `None` keeps the column.
    pub last_seen_at: Option<i64>,
    /// New `idle_expires_at` in milliseconds; `None` keeps the column.
    pub idle_expires_at: Option<i64>,
    /// New `expires_at` in milliseconds; `None` keeps the column.
    pub expires_at: Option<i64>,
    /// New `idle_timeout` in milliseconds; `None` keeps the column.
    pub idle_timeout: Option<i64>,
    /// New `persistent_cookie`; `None` keeps the column.
    pub persistent_cookie: Option<bool>,
}

impl<'a> PatchParams<'a> {
    pub(crate) fn new(patch: &'a SessionPatch) -> Self {
        let changes = patch
            .data
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_deref().map(RawValue::get)))
            .collect();
        Self {
            changes,
            user_changed: patch.user.is_some(),
            user: patch.user.as_ref().and_then(Option::as_deref),
            last_seen_at: patch.last_seen_at.map(millis),
            idle_expires_at: patch.idle_expires_at.map(millis),
            expires_at: patch.expires_at.map(millis),
            idle_timeout: patch.terms.as_ref().map(terms_millis),
            persistent_cookie: patch.terms.map(|t| t.persistent),
        }
    }

    /// Whether the patch changes any data key.
    pub(crate) fn changes_data(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Whether the patch removes any data key.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn removes_data(&self) -> bool {
        self.changes.values().any(Option::is_none)
    }

    /// An RFC 7396 merge patch of the data column: set keys map to their JSON text as a
    /// string, removed keys to `null`. `None` when no key changes.
    #[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
    pub(crate) fn merge_patch(&self) -> Result<Option<String>, StoreError> {
        if self.changes.is_empty() {
            return Ok(None);
        }
        let pairs: Vec<_> = self.changes.iter().map(|(k, v)| (*k, *v)).collect();
        to_json(&pairs).map(Some)
    }

    /// The keys to set, as a JSON object of JSON texts, and the keys to remove.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn set_and_removed(&self) -> Result<(String, Vec<&'a str>), StoreError> {
        let set: Vec<_> = self
            .changes
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, v)| (*k, *v))
            .collect();
        let removed = self
            .changes
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| *k)
            .collect();
        Ok((to_json(&set)?, removed))
    }
}

/// Which groups of columns a patch changes: bits of an index into a store's eight `update` (and
/// `rotate`) statements.
#[cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres"))]
pub(crate) mod shape {
    /// The data column.
    pub(crate) const DATA: usize = 1;
    /// The user column.
    pub(crate) const USER: usize = 2;
    /// The three deadlines, `deadline`, and the terms a login sets with them.
    pub(crate) const DEADLINES: usize = 4;
    /// How many shapes there are.
    pub(crate) const COUNT: usize = 8;
}

/// How an engine spells the two functions a patch needs.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) struct Dialect {
    /// RFC 7396 merge of two JSON texts: `json_patch`, `JSON_MERGE_PATCH`.
    pub(crate) merge_patch: &'static str,
    /// The smaller of two values: `MIN`, `LEAST`.
    pub(crate) least: &'static str,
}

#[cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres"))]
impl PatchParams<'_> {
    /// The groups of columns this patch changes (see [`shape`]).
    pub(crate) fn shape(&self) -> usize {
        let deadlines = self.last_seen_at.is_some()
            || self.idle_expires_at.is_some()
            || self.expires_at.is_some()
            || self.idle_timeout.is_some();
        usize::from(self.changes_data()) * shape::DATA
            + usize::from(self.user_changed) * shape::USER
            + usize::from(deadlines) * shape::DEADLINES
    }
}

#[cfg(any(feature = "sqlite", feature = "mysql"))]
impl Dialect {
    /// The `SET` list for the groups in `shape`, after `first` (`rotate`'s new key), with `?`
    /// placeholders in the order [`bind_patch`] binds them.
    ///
    /// `deadline` reads the new deadlines from the parameters, not from the columns: MySQL
    /// evaluates assignments left to right, each seeing the ones before, and SQLite the row as it
    /// was.
    pub(crate) fn set_list(&self, first: Option<&str>, shape: usize) -> String {
        let mut list: Vec<String> = first.into_iter().map(str::to_owned).collect();
        if shape & shape::DATA != 0 {
            list.push(format!("data = {}(data, ?)", self.merge_patch));
        }
        if shape & shape::USER != 0 {
            list.push("user_name = ?".to_owned());
        }
        if shape & shape::DEADLINES != 0 {
            list.push(format!(
                "last_seen_at = COALESCE(?, last_seen_at), \
                 idle_expires_at = COALESCE(?, idle_expires_at), \
                 expires_at = COALESCE(?, expires_at), \
                 deadline = {}(COALESCE(?, expires_at), COALESCE(?, idle_expires_at)), \
                 idle_timeout = COALESCE(?, idle_timeout), \
                 persistent_cookie = COALESCE(?, persistent_cookie)",
                self.least
            ));
        }
        if list.is_empty() {
            // An empty patch still reports whether the row exists.
            list.push("last_seen_at = last_seen_at".to_owned());
        }
        list.join(", ")
    }
}

/// The `update` and `rotate` statements of one table, one per [`shape`].
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) struct PatchStatements {
    update: [String; shape::COUNT],
    rotate: [String; shape::COUNT],
}

#[cfg(any(feature = "sqlite", feature = "mysql"))]
impl PatchStatements {
    /// The statements for `table` (quoted as the engine quotes names), with `?` placeholders:
    /// MySQL binds them in order, and SQLite numbers them in order.
    pub(crate) fn new(dialect: &Dialect, table: &str) -> Self {
        let statement = |first, shape| {
            let set = dialect.set_list(first, shape);
            // An ended session (kept for listing) is never changed again.
            format!("UPDATE {table} SET {set} WHERE token_hash = ? AND ended_at IS NULL")
        };
        Self {
            update: std::array::from_fn(|shape| statement(None, shape)),
            rotate: std::array::from_fn(|shape| statement(Some("token_hash = ?"), shape)),
        }
    }

    /// `update` for a patch of this shape: its parameters, then the token hash.
    pub(crate) fn update(&self, shape: usize) -> &str {
        &self.update[shape]
    }

    /// `rotate` for a patch of this shape: the new token hash, its parameters, then the old one.
    pub(crate) fn rotate(&self, shape: usize) -> &str {
        &self.rotate[shape]
    }
}

/// Binds the parameters of the groups in `shape`, in the order of [`Dialect::set_list`]; `user`
/// turns a user name into what the engine's user column binds.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) fn bind_patch<'q, DB, U>(
    mut query: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    params: &PatchParams<'q>,
    shape: usize,
    user: fn(&'q str) -> U,
) -> Result<Query<'q, DB, <DB as Database>::Arguments<'q>>, StoreError>
where
    DB: Database,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<U>: Encode<'q, DB> + Type<DB> + 'q,
{
    if shape & shape::DATA != 0 {
        query = query.bind(params.merge_patch()?);
    }
    if shape & shape::USER != 0 {
        query = query.bind(params.user.map(user));
    }
    if shape & shape::DEADLINES != 0 {
        query = query
            .bind(params.last_seen_at)
            .bind(params.idle_expires_at)
            .bind(params.expires_at)
            .bind(params.expires_at)
            .bind(params.idle_expires_at)
            .bind(params.idle_timeout)
            .bind(params.persistent_cookie);
    }
    Ok(query)
}

#[cfg(all(test, any(feature = "sqlite", feature = "mysql")))]
mod tests {
    use super::*;

    #[test]
    fn each_set_list_has_as_many_placeholders_as_bind_patch_binds() {
        let dialect = Dialect {
            merge_patch: "json_patch",
            least: "MIN",
        };
        for s in 0..shape::COUNT {
            let binds = usize::from(s & shape::DATA != 0)
                + usize::from(s & shape::USER != 0)
                + 7 * usize::from(s & shape::DEADLINES != 0);
            assert_eq!(dialect.set_list(None, s).matches('?').count(), binds, "{s}");
            let rotate = dialect.set_list(Some("token_hash = ?"), s);
            assert_eq!(rotate.matches('?').count(), binds + 1, "{s}");
        }
    }

    #[test]
    fn each_statement_has_one_placeholder_per_bound_value() {
        let dialect = Dialect {
            merge_patch: "JSON_MERGE_PATCH",
            least: "LEAST",
        };
        let statements = PatchStatements::new(&dialect, "`t`");
        for s in 0..shape::COUNT {
            let set = dialect.set_list(None, s).matches('?').count();
            assert_eq!(statements.update(s).matches('?').count(), set + 1, "{s}");
            assert_eq!(statements.rotate(s).matches('?').count(), set + 2, "{s}");
            assert!(statements
                .rotate(s)
                .starts_with("UPDATE `t` SET token_hash = ?"));
        }
    }

    #[test]
    fn the_shape_names_what_the_patch_changes() {
        let mut patch = SessionPatch::default();
        assert_eq!(PatchParams::new(&patch).shape(), 0);
        patch.set_key("k", None);
        assert_eq!(PatchParams::new(&patch).shape(), shape::DATA);
        patch.user = Some(None);
        patch.idle_expires_at = Some(std::time::SystemTime::now());
        let all = shape::DATA | shape::USER | shape::DEADLINES;
        assert_eq!(PatchParams::new(&patch).shape(), all);
        let terms_only = SessionPatch {
            terms: Some(crate::store::SessionTerms {
                idle_timeout: std::time::Duration::from_secs(60),
                persistent: true,
            }),
            ..SessionPatch::default()
        };
        assert_eq!(PatchParams::new(&terms_only).shape(), shape::DEADLINES);
    }

    #[test]
    fn later_changes_of_a_key_win() {
        let raw = |t: &str| Some(RawValue::from_string(t.to_owned()).unwrap());
        let patch = SessionPatch {
            data: vec![
                ("a".to_owned(), raw("1")),
                ("b".to_owned(), None),
                ("a".to_owned(), None),
                ("b".to_owned(), raw("null")),
            ],
            ..SessionPatch::default()
        };
        let params = PatchParams::new(&patch);
        assert_eq!(
            params.merge_patch().unwrap().as_deref(),
            Some(r#"{"a":null,"b":"null"}"#)
        );
        let (set, removed) = params.set_and_removed().unwrap();
        assert_eq!(set, r#"{"b":"null"}"#);
        assert_eq!(removed, vec!["a"]);
        assert!(PatchParams::new(&SessionPatch::default())
            .merge_patch()
            .unwrap()
            .is_none());
    }
}
