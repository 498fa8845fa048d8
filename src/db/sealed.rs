//! Sealed values (`core::sealing::Sealed`) in and out of text columns, on every backend.
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::core::sealing::Sealed;

impl<DB: Backend> FromSql<Text, DB> for Sealed
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        String::from_sql(bytes).map(Sealed)
    }
}

impl<DB: Backend> ToSql<Text, DB> for Sealed
where
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.0.as_str().to_sql(out)
    }
}
