//! Reading only the columns a client's selection needs.
//!
//! A nested page (twenty patients, each with ten appointments and ten prescriptions) reads a
//! few hundred rows, and PostgreSQL's cost of sending them grows with every column: reading
//! the five columns such a page shows instead of all thirteen of an appointment cost about
//! 30 % less CPU per statement (`bench/README.md`). A list's loader therefore names the columns
//! its nodes' fields read; the rest stay in the table, and a row that lacks a column says so
//! (`None`) rather than holding a stand-in value.
use std::sync::Mutex;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::row::{Field, Row};

/// A set of a table's columns: bit `i` is the `i`-th name of the table's column list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Columns(u32);

impl Columns {
    /// Every column: what a selection the resolver does not know reads.
    pub const ALL: Columns = Columns(u32::MAX);

    /// The columns whose bits are set in `bits`.
    pub const fn of(bits: u32) -> Self {
        Columns(bits)
    }

    pub const fn with(self, other: Columns) -> Self {
        Columns(self.0 | other.0)
    }

    pub const fn contains(self, other: Columns) -> bool {
        self.0 & other.0 == other.0
    }

    /// `a, b, c`: the names in `names` (the table's column list, in order) that are in the set.
    pub fn select_list(self, names: &[&str]) -> String {
        let mut list = String::with_capacity(names.len() * 12);
        for (index, name) in names.iter().enumerate() {
            if self.0 & (1 << index) != 0 {
                if !list.is_empty() {
                    list.push_str(", ");
                }
                list.push_str(name);
            }
        }
        list
    }
}

/// Declares a table's column list and a constant per column, for [`Columns`]:
/// `table_columns!(NAMES; ID = "id", NAME = "name")` makes `NAMES = ["id", "name"]`,
/// `ID = Columns::of(1)` and `NAME = Columns::of(2)`.
#[macro_export]
macro_rules! table_columns {
    ($names:ident; $($constant:ident = $name:literal),+ $(,)?) => {
        pub const $names: &[&str] = &[$($name),+];
        $crate::table_columns!(@bits 0; $($constant),+);
    };
    (@bits $index:expr; $constant:ident $(, $rest:ident)*) => {
        pub const $constant: $crate::db::columns::Columns =
            $crate::db::columns::Columns::of(1 << $index);
        $crate::table_columns!(@bits $index + 1; $($rest),*);
    };
    (@bits $index:expr;) => {};
}

/// The column sets whose statements stay prepared, at most [`PreparedSets::LIMIT`] of them.
/// Each column set is a statement text of its own, and each connection keeps every text it
/// prepared (diesel's statement cache has no bound), so a client sending selection after
/// selection could otherwise fill PostgreSQL's memory with prepared statements. Clients use a
/// handful of selections; a set beyond the limit runs unprepared (planned on every run).
#[derive(Default)]
pub struct PreparedSets(Mutex<Vec<Columns>>);

impl PreparedSets {
    pub const LIMIT: usize = 16;

    /// Whether a statement reading `columns` may stay prepared.
    pub fn admit(&self, columns: Columns) -> bool {
        let mut sets = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if sets.contains(&columns) {
            return true;
        }
        if sets.len() < Self::LIMIT {
            sets.push(columns);
            return true;
        }
        false
    }
}

/// Calls `read` with the name and value of each column of `row`, in order: a row type that
/// takes any subset of its table's columns matches each by name as it comes, rather than each
/// of its fields searching the row for its column.
pub fn read_columns<'a, DB: Backend>(
    row: &impl Row<'a, DB>,
    mut read: impl FnMut(&str, Option<DB::RawValue<'_>>) -> deserialize::Result<()>,
) -> deserialize::Result<()> {
    for index in 0..row.field_count() {
        let field = Row::get(row, index).ok_or(diesel::result::UnexpectedEndOfRow)?;
        read(field.field_name().unwrap_or_default(), field.value())?;
    }
    Ok(())
}

/// One value of a row, as `T` from SQL type `ST`.
pub fn decode<DB: Backend, ST, T: FromSql<ST, DB>>(
    value: Option<DB::RawValue<'_>>,
) -> deserialize::Result<T> {
    T::from_nullable_sql(value)
}

#[cfg(test)]
mod tests {
    use super::Columns;

    crate::table_columns!(NAMES; A = "a", B = "b", C = "c");

    #[test]
    fn the_list_names_the_set_in_table_order() {
        assert_eq!(C.with(A).select_list(NAMES), "a, c");
        assert_eq!(Columns::ALL.select_list(NAMES), "a, b, c");
        assert_eq!(B.select_list(NAMES), "b");
    }

    #[test]
    fn only_the_first_sets_stay_prepared() {
        let sets = super::PreparedSets::default();
        let set = |bits: u32| Columns::of(bits);
        for bits in 0..super::PreparedSets::LIMIT as u32 {
            assert!(sets.admit(set(bits)));
        }
        assert!(!sets.admit(set(1000)), "one set too many");
        assert!(sets.admit(set(3)), "a set admitted before stays admitted");
        assert!(!sets.admit(set(1000)));
    }

    #[test]
    fn a_set_contains_its_parts_only() {
        let set = A.with(C);
        assert!(set.contains(A) && set.contains(C) && set.contains(A.with(C)));
        assert!(!set.contains(B) && !set.contains(A.with(B)));
    }
}
