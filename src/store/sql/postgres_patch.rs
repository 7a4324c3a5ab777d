//! PostgreSQL's `update` and `rotate`: one statement per [`shape`] of patch, as SQLite and
//! MySQL have, with numbered parameters.
//!
//! A request that sets one key of its session sends `data = data || $2::jsonb` and one
//! parameter (a patch that removes keys adds `- $3::text[]`), not eight more columns assigned
//! to themselves through `COALESCE` with their parameters bound as `NULL`. The statement that
//! assigned every column cost the server 3–6 µs more than the data-only one (`pgbench -M
//! prepared`, one client, without the commit's flush), and the client the encoding of the
//! nine parameters.

use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;

use super::patch::{shape, PatchParams};
use crate::error::StoreError;

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// A bit beyond the [`shape`] bits: the patch removes data keys, so the data column's
/// assignment takes a second parameter (`- $n::text[]`); without it, a patch that only sets
/// keys sends what a plain merge sends.
const REMOVES: usize = shape::COUNT;
/// How many statements there are per operation: every shape, with and without removals.
const STATEMENTS: usize = 2 * shape::COUNT;

/// The shape of `params` as this store numbers its statements: [`shape`]'s bits, and
/// [`REMOVES`] when the patch removes a key.
pub(super) fn pg_shape(params: &PatchParams<'_>) -> usize {
    params.shape() | if params.removes_data() { REMOVES } else { 0 }
}

/// The `update` and `rotate` statements of one table, one per shape (see [`pg_shape`]).
pub(super) struct PgPatchStatements {
    update: [String; STATEMENTS],
    rotate: [String; STATEMENTS],
}

impl PgPatchStatements {
    /// The statements for `table` (quoted): `update` binds the token hash as `$1` and the
    /// patch from `$2`; `rotate` the old hash as `$1`, the new one as `$2`, the patch from `$3`.
    pub(super) fn new(table: &str) -> Self {
        // An ended session (kept for listing) is never changed again.
        let update = |shape| {
            format!(
                "UPDATE {table} SET {} WHERE token_hash = $1 AND ended_at IS NULL",
                set_list(2, shape)
            )
        };
        let rotate = |shape| {
            format!(
                "UPDATE {table} SET token_hash = $2, {} WHERE token_hash = $1 AND ended_at IS NULL",
                set_list(3, shape)
            )
        };
        Self {
            update: std::array::from_fn(update),
            rotate: std::array::from_fn(rotate),
        }
    }

    /// `update` for a patch of this shape.
    pub(super) fn update(&self, shape: usize) -> &str {
        &self.update[shape]
    }

    /// `rotate` for a patch of this shape.
    pub(super) fn rotate(&self, shape: usize) -> &str {
        &self.rotate[shape]
    }
}

/// The `SET` list for the groups in `shape`, numbering the parameters from `$first` in the
/// order [`bind_patch`] binds them. Right-hand sides see the row before the update, so
/// `deadline` may read the columns the same statement assigns.
fn set_list(first: usize, shape: usize) -> String {
    let mut next = first;
    let mut param = || {
        next += 1;
        format!("${}", next - 1)
    };
    let mut list = Vec::new();
    if shape & shape::DATA != 0 {
        let set = param();
        if shape & REMOVES != 0 {
            let removed = param();
            list.push(format!("data = (data || {set}::jsonb) - {removed}::text[]"));
        } else {
            list.push(format!("data = data || {set}::jsonb"));
        }
    }
    if shape & shape::USER != 0 {
        list.push(format!("user_name = {}", param()));
    }
    if shape & shape::DEADLINES != 0 {
        let (seen, idle, expires) = (param(), param(), param());
        let (idle_timeout, persistent) = (param(), param());
        list.push(format!(
            "last_seen_at = COALESCE({seen}, last_seen_at), \
             idle_expires_at = COALESCE({idle}, idle_expires_at), \
             expires_at = COALESCE({expires}, expires_at), \
             deadline = LEAST(COALESCE({expires}, expires_at), COALESCE({idle}, idle_expires_at)), \
             idle_timeout = COALESCE({idle_timeout}, idle_timeout), \
             persistent_cookie = COALESCE({persistent}, persistent_cookie)"
        ));
    }
    if list.is_empty() {
        // An empty patch still reports whether the row exists.
        list.push("last_seen_at = last_seen_at".to_owned());
    }
    list.join(", ")
}

/// Binds the parameters of the groups in `shape`, in the order of [`set_list`].
pub(super) fn bind_patch<'q>(
    mut query: PgQuery<'q>,
    params: &PatchParams<'q>,
    shape: usize,
) -> Result<PgQuery<'q>, StoreError> {
    if shape & shape::DATA != 0 {
        let (set, removed) = params.set_and_removed()?;
        query = query.bind(set);
        if shape & REMOVES != 0 {
            query = query.bind(removed);
        }
    }
    if shape & shape::USER != 0 {
        query = query.bind(params.user);
    }
    if shape & shape::DEADLINES != 0 {
        query = query
            .bind(params.last_seen_at)
            .bind(params.idle_expires_at)
            .bind(params.expires_at)
            .bind(params.idle_timeout)
            .bind(params.persistent_cookie);
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The highest `$n` in `sql`.
    fn last_param(sql: &str) -> usize {
        sql.split('$')
            .skip(1)
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn each_statement_numbers_as_many_parameters_as_bind_patch_binds() {
        let statements = PgPatchStatements::new("\"t\"");
        for s in 0..STATEMENTS {
            let data = s & shape::DATA != 0;
            let binds = usize::from(data)
                + usize::from(data && s & REMOVES != 0)
                + usize::from(s & shape::USER != 0)
                + 5 * usize::from(s & shape::DEADLINES != 0);
            assert_eq!(last_param(statements.update(s)), 1 + binds, "{s}");
            assert_eq!(last_param(statements.rotate(s)), 2 + binds, "{s}");
            assert!(statements
                .update(s)
                .ends_with("WHERE token_hash = $1 AND ended_at IS NULL"));
            assert!(statements
                .rotate(s)
                .starts_with("UPDATE \"t\" SET token_hash = $2, "));
        }
        // A change of data alone assigns the data column alone.
        assert_eq!(
            statements.update(shape::DATA),
            "UPDATE \"t\" SET data = data || $2::jsonb WHERE token_hash = $1 AND ended_at IS NULL"
        );
        assert_eq!(
            statements.update(shape::DATA | REMOVES),
            "UPDATE \"t\" SET data = (data || $2::jsonb) - $3::text[] \
             WHERE token_hash = $1 AND ended_at IS NULL"
        );
    }
}
