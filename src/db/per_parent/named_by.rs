//! `column IN (a per-parent query of one column)`: the rows that the first rows of each parent
//! name, such as the doctors of a page's appointments. The statement needs no answer from the
//! per-parent one, so PostgreSQL receives both together, pipelined on the request's connection
//! (`db::shared`), where reading the named rows by id after the per-parent rows had arrived
//! took a round trip more.
use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Untyped};

use super::PerParentQuery;

/// See the module: `column IN (names)`, where `names` selects one column.
pub struct NamedBy<'a, C> {
    column: C,
    names: &'a PerParentQuery<Untyped>,
}

pub fn named_by<C>(column: C, names: &PerParentQuery<Untyped>) -> NamedBy<'_, C> {
    NamedBy { column, names }
}

impl<C: Expression> Expression for NamedBy<'_, C> {
    type SqlType = Bool;
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for NamedBy<'_, C> {}

impl<C, GroupBy> ValidGrouping<GroupBy> for NamedBy<'_, C> {
    type IsAggregate = is_aggregate::Never;
}

impl<C> QueryId for NamedBy<'_, C> {
    type QueryId = ();
    // Cached by its SQL text, as the per-parent query is.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C, DB> QueryFragment<DB> for NamedBy<'_, C>
where
    DB: Backend,
    C: QueryFragment<DB>,
    PerParentQuery<Untyped>: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (");
        self.names.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}
