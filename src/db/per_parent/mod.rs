//! "The first n rows of each parent" in one statement, for DataLoaders. diesel's DSL has no
//! `LATERAL` and no correlated `LIMIT`, so this writes the SQL itself.
//!
//! Each parent's rows are found by a subquery with `ORDER BY … LIMIT n` run once per parent:
//! a `LATERAL` subquery on PostgreSQL, a correlated `IN` on SQLite, and on MySQL/MariaDB (where
//! MariaDB has no `LATERAL` and neither takes `LIMIT` in an `IN` subquery) one such subquery
//! per parent, joined by `UNION ALL` inside a derived table. It reads at most n rows of
//! each parent from the parent's index. Ranking every row of the parents with `ROW_NUMBER()`,
//! as this did before, read all their rows first: the first ten appointments of three doctors
//! with 50,000 between them took 51 ms on PostgreSQL and 63 ms on SQLite that way, 0.7 ms and
//! 0.06 ms now; for twenty patients with a few rows each, about 40 % less on both.
//!
//! On PostgreSQL every value is a bind parameter and the ids one array, so the text depends
//! only on the query's shape: diesel's statement cache prepares it once per connection, and
//! PostgreSQL stops planning it for every batch (planning cost more than running it). On
//! SQLite, where preparing is cheap and in process, the values are written into the text —
//! only values the service generates (integer ids, enum names, formatted timestamps), never
//! client strings. MySQL's text has one subquery per parent, so it too is written with its
//! values and not kept prepared (prepared texts of every batch size would fill the server's
//! `max_prepared_stmt_count`).
//!
//! Rows come grouped by parent, each parent's rows in `order_by` order. SQLite's and MySQL's
//! outer queries say so. PostgreSQL's has no `ORDER BY` (it would sort every row again, a sixth of the
//! statement): a subquery with `LIMIT` that refers to the outer row can only be joined by a
//! nested loop, which emits each parent's rows in the order the subquery returns them
//! (`tests/api/graph.rs` holds both backends to it).
use std::borrow::Cow;
use std::marker::PhantomData;

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::mysql::Mysql;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Timestamp, Untyped};
use diesel::sqlite::Sqlite;

mod named_by;
pub use named_by::{NamedBy, named_by};

/// One condition of the inner `WHERE`.
enum Condition {
    InClinic(&'static str, i64),
    EqId(&'static str, i64),
    IsNull(&'static str),
    EqName(&'static str, &'static str),
    AtOrAfter(&'static str, NaiveDateTime),
    Before(&'static str, NaiveDateTime),
    LivePatient,
}

/// `SELECT columns ... WHERE conditions` for each of `parent_ids`, at most `per_parent` rows
/// each, the first by `order_by`. The table's key must be `id` (SQLite finds the rows by it).
/// `Row` is the SQL type of `columns`: a table's [`RowOf`] when `columns` are all of its
/// columns in order (a test per such table holds them to it), so rows load by position; looking
/// each column up by name cost more than the rest of decoding a row. `Untyped` loads by name,
/// for other texts.
pub struct PerParentQuery<Row> {
    table: &'static str,
    columns: Cow<'static, str>,
    parent_column: &'static str,
    parent_ids: Vec<i64>,
    order_by: &'static str,
    per_parent: i64,
    conditions: Vec<Condition>,
    /// Whether PostgreSQL keeps the statement prepared (see `db::columns::PreparedSets`).
    prepared: bool,
    row: PhantomData<fn() -> Row>,
}

impl<Row> PerParentQuery<Row> {
    pub fn new(
        table: &'static str,
        columns: impl Into<Cow<'static, str>>,
        parent_column: &'static str,
        parent_ids: &[i64],
        order_by: &'static str,
        per_parent: usize,
    ) -> Self {
        Self {
            table,
            columns: columns.into(),
            parent_column,
            parent_ids: parent_ids.to_vec(),
            order_by,
            per_parent: i64::try_from(per_parent).unwrap_or(i64::MAX),
            conditions: Vec::new(),
            prepared: true,
            row: PhantomData,
        }
    }

    /// The tenancy condition `column = id`. On SQLite it is written `+column`, so that SQLite,
    /// which has no statistics on a young database, never prefers the clinic index (every row
    /// of the clinic) over the parent index (a few rows per parent). PostgreSQL has statistics,
    /// and to it the unary plus is an expression of unknown selectivity: it then expected a
    /// doctor's first patients by name to be rare, and sorted all of them (2.7 ms instead of
    /// 0.1 ms for three doctors).
    pub fn in_clinic(mut self, column: &'static str, clinic_id: i64) -> Self {
        self.conditions.push(Condition::InClinic(column, clinic_id));
        self
    }

    /// Runs the statement unprepared: parsed and planned on every run, kept nowhere.
    pub fn unprepared(mut self) -> Self {
        self.prepared = false;
        self
    }

    pub fn eq_id(mut self, column: &'static str, id: i64) -> Self {
        self.conditions.push(Condition::EqId(column, id));
        self
    }

    pub fn is_null(mut self, column: &'static str) -> Self {
        self.conditions.push(Condition::IsNull(column));
        self
    }

    /// `column = 'NAME'` for one of the service's own enum names (few, so few statement shapes).
    pub fn eq_name(mut self, column: &'static str, name: &'static str) -> Self {
        debug_assert!(name.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
        self.conditions.push(Condition::EqName(column, name));
        self
    }

    /// The row's `patient_id` names a patient who is not deleted: a deleted patient's records
    /// go with them.
    pub fn of_live_patient(mut self) -> Self {
        self.conditions.push(Condition::LivePatient);
        self
    }

    /// `column >= at`.
    pub fn at_or_after(mut self, column: &'static str, at: NaiveDateTime) -> Self {
        self.conditions.push(Condition::AtOrAfter(column, at));
        self
    }

    /// `column < at`.
    pub fn before(mut self, column: &'static str, at: NaiveDateTime) -> Self {
        self.conditions.push(Condition::Before(column, at));
        self
    }

    /// SQLite's form: SQLite has no `LATERAL`, but runs a correlated `IN` subquery once per
    /// parent, and finds the rows it names by their rowid.
    fn write_correlated<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, Sqlite>,
        mut value: impl FnMut(&mut AstPass<'_, 'b, Sqlite>, Value<'b>) -> QueryResult<()>,
    ) -> QueryResult<()> {
        if self.parent_ids.is_empty() {
            // `VALUES` needs a row.
            out.push_sql("SELECT ");
            out.push_sql(&self.columns);
            out.push_sql(" FROM ");
            out.push_sql(self.table);
            out.push_sql(" WHERE 1 = 0");
            return Ok(());
        }
        out.push_sql("SELECT ");
        out.push_sql(&self.columns);
        out.push_sql(" FROM (VALUES ");
        value(out, Value::Ids(&self.parent_ids))?;
        // CROSS JOIN keeps the parents outside: SQLite never reorders it. `column1` is how
        // SQLite names the column of a `VALUES` list.
        out.push_sql(") AS parents CROSS JOIN ");
        out.push_sql(self.table);
        out.push_sql(" WHERE ");
        out.push_sql(self.table);
        out.push_sql(".id IN (");
        self.write_first_rows(out, "id", "parents.column1", "+", &mut value)?;
        out.push_sql(") ORDER BY ");
        out.push_sql(self.parent_column);
        out.push_sql(", ");
        out.push_sql(self.order_by);
        Ok(())
    }

    /// PostgreSQL's form: for each parent, its first `per_parent` rows and no others.
    fn write_lateral<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, Pg>,
        mut value: impl FnMut(&mut AstPass<'_, 'b, Pg>, Value<'b>) -> QueryResult<()>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT firsts.* FROM unnest(");
        value(out, Value::Ids(&self.parent_ids))?;
        out.push_sql(") AS parents(parent_id) CROSS JOIN LATERAL (");
        self.write_first_rows(out, &self.columns, "parents.parent_id", "", &mut value)?;
        out.push_sql(") AS firsts");
        Ok(())
    }

    /// MySQL's form: the rows whose ids the parents' subqueries name, each parent's written
    /// out. The derived table `firsts` is what lets MariaDB take `LIMIT` inside `IN`.
    fn write_union<'b>(&'b self, out: &mut AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        out.push_sql(&self.columns);
        out.push_sql(" FROM ");
        out.push_sql(self.table);
        if self.parent_ids.is_empty() {
            out.push_sql(" WHERE 1 = 0");
            return Ok(());
        }
        out.push_sql(" WHERE ");
        out.push_sql(self.table);
        out.push_sql(".id IN (SELECT id FROM (");
        for (index, parent) in self.parent_ids.iter().enumerate() {
            if index > 0 {
                out.push_sql(" UNION ALL ");
            }
            out.push_sql("(");
            let parent = parent.to_string();
            self.write_first_rows(out, "id", &parent, "", &mut text_value)?;
            out.push_sql(")");
        }
        out.push_sql(") AS firsts) ORDER BY ");
        out.push_sql(self.parent_column);
        out.push_sql(", ");
        out.push_sql(self.order_by);
        Ok(())
    }

    /// The subquery every form runs once per parent: `selected` of the parent `parent`'s first
    /// `per_parent` rows. `clinic_prefix` goes before the clinic column.
    fn write_first_rows<'b, DB: diesel::backend::Backend>(
        &'b self,
        out: &mut AstPass<'_, 'b, DB>,
        selected: &str,
        parent: &str,
        clinic_prefix: &'static str,
        value: &mut impl FnMut(&mut AstPass<'_, 'b, DB>, Value<'b>) -> QueryResult<()>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT ");
        out.push_sql(selected);
        out.push_sql(" FROM ");
        out.push_sql(self.table);
        out.push_sql(" WHERE ");
        out.push_sql(self.parent_column);
        out.push_sql(" = ");
        out.push_sql(parent);
        self.write_conditions(out, clinic_prefix, value)?;
        out.push_sql(" ORDER BY ");
        out.push_sql(self.order_by);
        out.push_sql(" LIMIT ");
        value(out, Value::Int(&self.per_parent))?;
        Ok(())
    }

    /// ` AND condition` for each condition.
    fn write_conditions<'b, DB: diesel::backend::Backend>(
        &'b self,
        out: &mut AstPass<'_, 'b, DB>,
        clinic_prefix: &'static str,
        value: &mut impl FnMut(&mut AstPass<'_, 'b, DB>, Value<'b>) -> QueryResult<()>,
    ) -> QueryResult<()> {
        for condition in &self.conditions {
            out.push_sql(" AND ");
            match condition {
                Condition::InClinic(column, id) => {
                    out.push_sql(clinic_prefix);
                    out.push_sql(column);
                    out.push_sql(" = ");
                    value(out, Value::Int(id))?;
                }
                Condition::EqId(column, id) => {
                    out.push_sql(column);
                    out.push_sql(" = ");
                    value(out, Value::Int(id))?;
                }
                Condition::IsNull(column) => {
                    out.push_sql(column);
                    out.push_sql(" IS NULL");
                }
                Condition::EqName(column, name) => {
                    out.push_sql(column);
                    out.push_sql(" = '");
                    out.push_sql(name);
                    out.push_sql("'");
                }
                Condition::AtOrAfter(column, at) => {
                    out.push_sql(column);
                    out.push_sql(" >= ");
                    value(out, Value::Time(at))?;
                }
                Condition::Before(column, at) => {
                    out.push_sql(column);
                    out.push_sql(" < ");
                    value(out, Value::Time(at))?;
                }
                Condition::LivePatient => {
                    out.push_sql("EXISTS (SELECT 1 FROM patients WHERE patients.id = ");
                    out.push_sql(self.table);
                    out.push_sql(".patient_id AND patients.deleted_at IS NULL)");
                }
            }
        }
        Ok(())
    }
}

/// `(parent id, count)` of the rows a [`PerParentQuery`] would read for each parent, were it
/// not limited to the first rows: the same table, parent column and conditions, so a list and
/// its `totalCount` never disagree. Parents without rows are left out.
pub struct PerParentCounts(PerParentQuery<Untyped>);

impl<Row> PerParentQuery<Row> {
    pub fn counts(self) -> PerParentCounts {
        PerParentCounts(PerParentQuery {
            table: self.table,
            columns: self.columns,
            parent_column: self.parent_column,
            parent_ids: self.parent_ids,
            order_by: self.order_by,
            per_parent: self.per_parent,
            conditions: self.conditions,
            prepared: self.prepared,
            row: PhantomData,
        })
    }
}

impl PerParentCounts {
    /// `SELECT parent, COUNT(*) … WHERE parent IN (ids) AND conditions GROUP BY parent`, the
    /// ids written by `ids`. The clinic condition takes `clinic_prefix`, as in the list.
    fn write<'b, DB: diesel::backend::Backend>(
        &'b self,
        out: &mut AstPass<'_, 'b, DB>,
        ids: impl FnOnce(&mut AstPass<'_, 'b, DB>) -> QueryResult<()>,
        clinic_prefix: &'static str,
        mut value: impl FnMut(&mut AstPass<'_, 'b, DB>, Value<'b>) -> QueryResult<()>,
    ) -> QueryResult<()> {
        let query = &self.0;
        out.push_sql("SELECT ");
        out.push_sql(query.parent_column);
        out.push_sql(", COUNT(*) FROM ");
        out.push_sql(query.table);
        out.push_sql(" WHERE ");
        out.push_sql(query.parent_column);
        ids(out)?;
        query.write_conditions(out, clinic_prefix, &mut value)?;
        out.push_sql(" GROUP BY ");
        out.push_sql(query.parent_column);
        Ok(())
    }
}

impl QueryId for PerParentCounts {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for PerParentCounts {
    type SqlType = (BigInt, BigInt);
}

impl QueryFragment<Pg> for PerParentCounts {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let ids = |out: &mut AstPass<'_, 'b, Pg>| {
            out.push_sql(" = ANY(");
            out.push_bind_param::<Array<BigInt>, _>(&self.0.parent_ids)?;
            out.push_sql(")");
            Ok(())
        };
        self.write(&mut out, ids, "", pg_value)
    }
}

impl QueryFragment<Sqlite> for PerParentCounts {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        let ids = |out: &mut AstPass<'_, 'b, Sqlite>| {
            out.push_sql(" IN (");
            let ids: Vec<String> = self.0.parent_ids.iter().map(i64::to_string).collect();
            out.push_sql(&ids.join(", "));
            out.push_sql(")");
            Ok(())
        };
        self.write(&mut out, ids, "+", text_value)
    }
}

impl QueryFragment<Mysql> for PerParentCounts {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        let ids = |out: &mut AstPass<'_, 'b, Mysql>| {
            if self.0.parent_ids.is_empty() {
                out.push_sql(" IN (NULL)");
                return Ok(());
            }
            out.push_sql(" IN (");
            let ids: Vec<String> = self.0.parent_ids.iter().map(i64::to_string).collect();
            out.push_sql(&ids.join(", "));
            out.push_sql(")");
            Ok(())
        };
        self.write(&mut out, ids, "", text_value)
    }
}

/// A value in the statement: `Ids` is an array on PostgreSQL, `VALUES` rows on SQLite (MySQL's
/// form names each parent in its own subquery instead).
enum Value<'a> {
    Int(&'a i64),
    Ids(&'a Vec<i64>),
    Time(&'a NaiveDateTime),
}

impl<Row> QueryId for PerParentQuery<Row> {
    type QueryId = ();
    // Cached by its SQL text, which is the same for every query of one shape.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Row: 'static> Query for PerParentQuery<Row> {
    type SqlType = Row;
}

/// PostgreSQL's values: bind parameters.
fn pg_value<'b>(out: &mut AstPass<'_, 'b, Pg>, value: Value<'b>) -> QueryResult<()> {
    match value {
        Value::Int(n) => out.push_bind_param::<BigInt, _>(n),
        Value::Ids(ids) => out.push_bind_param::<Array<BigInt>, _>(ids),
        Value::Time(at) => out.push_bind_param::<Timestamp, _>(at),
    }
}

/// SQLite's and MySQL's values: in the text (see the module).
fn text_value<DB: diesel::backend::Backend>(
    out: &mut AstPass<'_, '_, DB>,
    value: Value<'_>,
) -> QueryResult<()> {
    match value {
        Value::Int(n) => out.push_sql(&n.to_string()),
        Value::Ids(ids) => {
            let rows: Vec<String> = ids.iter().map(|id| format!("({id})")).collect();
            out.push_sql(&rows.join(", "));
        }
        // diesel's text form of a timestamp (SQLite compares timestamps as this text, MySQL
        // reads it as a DATETIME literal).
        Value::Time(at) => out.push_sql(&format!("'{}'", at.format("%F %T%.f"))),
    }
    Ok(())
}

impl<Row> QueryFragment<Pg> for PerParentQuery<Row> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if !self.prepared {
            out.unsafe_to_cache_prepared();
        }
        self.write_lateral(&mut out, pg_value)
    }
}

impl<Row> QueryFragment<Sqlite> for PerParentQuery<Row> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        // The values are in the text: one text per batch, so not worth caching.
        out.unsafe_to_cache_prepared();
        self.write_correlated(&mut out, text_value)
    }
}

impl<Row> QueryFragment<Mysql> for PerParentQuery<Row> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        self.write_union(&mut out)
    }
}

/// The SQL type of a row of table `T`, all its columns in their declared order.
pub type RowOf<T> = diesel::dsl::SqlTypeOf<<T as diesel::Table>::AllColumns>;

/// The columns of `table` in their declared order, unqualified (`id, clinic_id, …`): what a
/// `columns` text must equal for its rows to load by position (checked by tests only).
#[cfg(test)]
pub fn column_list<T>() -> String
where
    T: diesel::Table,
    T::AllColumns: QueryFragment<Sqlite> + QueryId,
{
    let columns = diesel::debug_query::<Sqlite, _>(&T::all_columns()).to_string();
    columns
        .trim_end_matches(" -- binds: []")
        .split(", ")
        .map(|column| {
            column
                .rsplit('.')
                .next()
                .unwrap_or(column)
                .trim_matches(['`', '"'])
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
