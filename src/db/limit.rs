//! A page's `LIMIT` written into the statement's text instead of bound as a parameter.
//!
//! PostgreSQL plans a prepared statement for its first five runs, then keeps one generic plan if
//! that costs no more than the plans it made. A generic plan cannot know a bound `LIMIT`, so the
//! planner assumes it keeps a tenth of the rows: for a clinic of 10,000 patients, the first page
//! costs 107 in the generic plan against 2.5 for the same plan with the limit known. So every
//! page statement was planned again on every request, and planning took three times as long as
//! running it (`pg_stat_statements`, `bench/README.md`). With the limit in the text, the generic
//! plan costs what the custom ones did, and the statement is planned once per connection.
//!
//! Each text is a prepared statement of its own on every connection, so the limit is rounded up
//! to one of a few steps (the common page sizes plus one are steps themselves) and the rows
//! beyond the one asked for are dropped: a statement shape makes at most [`STEPS`] statements,
//! however many page sizes clients ask for.
use std::future::Future;

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel_async::AsyncConnectionCore;
use diesel_async::methods::LoadQuery;
use futures_util::TryFutureExt;

/// The limits written into texts. A page of n rows asks for n + 1 (the extra row tells whether
/// another page follows): pages of 1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 75 and 100 read
/// exactly what they need.
const STEPS: [usize; 14] = [1, 2, 3, 6, 11, 16, 21, 26, 31, 41, 51, 61, 76, 101];

/// `query` (ordered, without a limit of its own) limited to its first `rows` rows.
pub fn limited<Q>(query: Q, rows: usize) -> Limited<Q> {
    let step = STEPS
        .iter()
        .copied()
        .find(|&step| step >= rows)
        .unwrap_or(rows);
    Limited {
        query,
        step: i64::try_from(step).unwrap_or(i64::MAX),
        rows,
    }
}

pub struct Limited<Q> {
    query: Q,
    /// The limit in the text.
    step: i64,
    /// The rows kept.
    rows: usize,
}

impl<Q> Limited<Q> {
    /// The first `rows` rows of the query. (A plain future, not an `async fn`: the trait
    /// objects of repositories need it `Send` for every lifetime of the query.)
    pub fn load_rows<'conn, 'query, C, U>(
        self,
        conn: &'conn mut C,
    ) -> impl Future<Output = QueryResult<Vec<U>>> + Send + use<'conn, 'query, C, U, Q>
    where
        C: AsyncConnectionCore,
        U: Send + 'conn,
        Self: LoadQuery<'query, C, U> + 'query,
    {
        let rows = self.rows;
        diesel_async::RunQueryDsl::load(self, conn).map_ok(move |mut found| {
            found.truncate(rows);
            found
        })
    }
}

impl<Q: Query> Query for Limited<Q> {
    type SqlType = Q::SqlType;
}

/// Cached by text, like the boxed queries it wraps: the text holds the step.
impl<Q> QueryId for Limited<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> QueryFragment<DB> for Limited<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(itoa::Buffer::new().format(self.step));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;
    use diesel::prelude::*;
    use diesel::sqlite::Sqlite;

    use super::*;
    use crate::db::schema::patients;

    fn step(rows: usize) -> i64 {
        limited((), rows).step
    }

    #[test]
    fn common_page_sizes_read_exactly_their_rows() {
        for size in [1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 100] {
            assert_eq!(step(size + 1), size as i64 + 1, "page of {size}");
        }
    }

    #[test]
    fn other_sizes_round_up_to_the_next_step() {
        assert_eq!(step(4), 6);
        assert_eq!(step(12), 16);
        assert_eq!(step(77), 101);
        // Beyond the steps the text holds the limit itself (no page is that long).
        assert_eq!(step(500), 500);
    }

    #[test]
    fn the_limit_is_in_the_text_on_every_backend() {
        let query = patients::table
            .select(patients::id)
            .filter(patients::clinic_id.eq(7))
            .order(patients::id.desc());
        let pg = limited(query.into_boxed::<Pg>(), 12);
        let pg = diesel::debug_query::<Pg, _>(&pg).to_string();
        assert!(pg.ends_with(r#""id" DESC LIMIT 16 -- binds: [7]"#), "{pg}");
        let sqlite = limited(query.into_boxed::<Sqlite>(), 21);
        let sqlite = diesel::debug_query::<Sqlite, _>(&sqlite).to_string();
        assert!(sqlite.ends_with("DESC LIMIT 21 -- binds: [7]"), "{sqlite}");
        let mysql = limited(query.into_boxed::<diesel::mysql::Mysql>(), 5);
        let mysql = diesel::debug_query::<diesel::mysql::Mysql, _>(&mysql).to_string();
        assert!(mysql.ends_with("DESC LIMIT 6 -- binds: [7]"), "{mysql}");
    }
}
