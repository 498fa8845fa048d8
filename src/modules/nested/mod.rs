//! Nested lists: the records of one kind under a parent record — a patient's appointments, a
//! doctor's, a patient's prescriptions, an appointment's. A list is declared once, as a
//! [`NestedList`] (its table, parent columns, order, filter, selectable columns, and the
//! service that owns its records); from that declaration it gets
//! - one statement per batch of parents for its rows, one for the doctors they name and one
//!   for their counts, on every backend (`repository.rs`, over `db::per_parent`, the only place
//!   that writes backend SQL for them);
//! - the service reads its loaders call, which apply the owning service's rule of who may read
//!   what ([`NestedReads`]), as that service's root fields do;
//! - its DataLoader keys and loaders, batched per page of parents (`loaders.rs`,
//!   `page_batch.rs`);
//! - the connection or list a resolver returns (`connection.rs`).
use std::fmt::Debug;
use std::hash::Hash;

use diesel::QueryableByName;
use diesel::mysql::Mysql;
use diesel::pg::Pg;
use diesel::sql_types::Untyped;
use diesel::sqlite::Sqlite;

use crate::core::pagination::KeyCursor;
use crate::db::columns::Columns;
use crate::db::per_parent::PerParentQuery;

mod connection;
mod loaders;
mod page_batch;
mod reads;
mod repository;

// What other modules may use.
pub use connection::{connection, count, list};
pub use loaders::{CountOf, ListOf, PageList, Rows};
pub use page_batch::{PageBatch, PerParentKey};
pub use reads::NestedReads;
pub use repository::NestedRepository;

/// The declaration of a nested list (see the module). Implemented by a unit type of the module
/// that owns the records.
pub trait NestedList: Copy + Eq + Hash + Debug + Send + Sync + 'static {
    /// A row as a list reads it: [`Self::KEYS`] and the columns its selection asked for.
    type Row: QueryableByName<Pg>
        + QueryableByName<Sqlite>
        + QueryableByName<Mysql>
        + Clone
        + Send
        + Sync
        + 'static;
    /// The kinds of record a list of these hangs under.
    type Parent: Copy + Eq + Hash + Debug + Send + Sync + 'static;
    /// What the list's arguments narrow it to, besides the parent.
    type Filter: Clone + Eq + Hash + Debug + Default + Send + Sync + 'static;

    /// The table; it has `id`, `clinic_id` and `patient_id` columns.
    const TABLE: &'static str;
    /// A parent's rows in this order, and their cursors by it.
    const ORDER_BY: &'static str;
    /// The table's columns in order (see `db::columns`), and those every read takes.
    const COLUMNS: &'static [&'static str];
    const KEYS: Columns;
    /// The column that names a row's doctor, and the node type's field that shows the doctor:
    /// a selection of that field reads the doctors with the rows.
    const DOCTOR_COLUMN: &'static str;
    const DOCTOR_FIELD: &'static str;

    /// The column that holds the parent's id, and its bit: read with every row, so that rows
    /// can be dealt out to their parents.
    fn parent_column(parent: Self::Parent) -> (&'static str, Columns);
    /// Whether the list must check that its rows' patient is not deleted (a deleted patient's
    /// records go with them). A list under a patient, or under a record of one patient, was
    /// reached through a live record, and need not.
    fn checks_patient(parent: Self::Parent) -> bool;
    /// `query` narrowed by `filter`.
    fn filtered(query: PerParentQuery<Untyped>, filter: &Self::Filter) -> PerParentQuery<Untyped>;
    /// The columns the GraphQL field `field` of the list's node type reads besides
    /// [`Self::KEYS`]; `None` for one it does not know, which then reads them all.
    fn columns_of(field: &str) -> Option<Columns>;

    fn parent_of(parent: Self::Parent, row: &Self::Row) -> Option<i64>;
    fn doctor_of(row: &Self::Row) -> Option<i64>;
    fn cursor(row: &Self::Row) -> KeyCursor;

    /// The service that owns the records, which says who may read which.
    fn owner(services: &crate::modules::registry::Services) -> &dyn NestedReads<Self>;
}

/// One statement's worth of a list: its rows under each of `parent_ids`.
#[derive(Debug, Clone)]
pub struct Batch<'a, L: NestedList> {
    pub parent: L::Parent,
    pub parent_ids: &'a [i64],
    pub filter: &'a L::Filter,
    /// Rows per parent, at most.
    pub fetch: usize,
    pub columns: Columns,
}
