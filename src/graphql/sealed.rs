//! Sealed fields (`core::sealing`) opened for the caller: the keys are the schema's data. A
//! value that does not open is that field's `DATA_UNREADABLE` error (logged where it failed);
//! the rest of the answer stands.
use std::sync::Arc;

use async_graphql::{Context, Result};

use crate::core::error::AppError;
use crate::core::sealing::{DataKeys, Field, Sealed};

pub fn keys<'a>(ctx: &Context<'a>) -> Result<&'a DataKeys> {
    Ok(ctx.data::<Arc<DataKeys>>()?)
}

/// The plaintext of a nullable sealed column `field` of row `row`.
pub fn open(
    ctx: &Context<'_>,
    field: Field,
    row: i64,
    sealed: Option<&Sealed>,
) -> Result<Option<String>> {
    Ok(keys(ctx)?
        .open_optional(field, row, sealed)
        .map_err(AppError::from)?)
}
