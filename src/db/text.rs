//! Text functions whose SQL differs between backends.
use diesel::QueryResult;
use diesel::SqliteConnection;
use diesel::sql_types::Text;

diesel::define_sql_function! {
    /// SQL `lower()` with Unicode case mapping on every backend: PostgreSQL's own (its
    /// databases are UTF-8), and on SQLite, whose built-in maps ASCII letters only, Rust's
    /// (see [`register_on_sqlite`]).
    fn lower(text: Text) -> Text;
}

/// Replaces SQLite's `lower()` on `conn` with one that maps every script, as PostgreSQL's
/// does. SQLite does that only with its ICU extension, which the bundled library lacks; an
/// application function, registered per connection, is SQLite's own way to supply it.
pub fn register_on_sqlite(conn: &mut SqliteConnection) -> QueryResult<()> {
    lower_utils::register_impl(conn, |text: String| text.to_lowercase())
}
