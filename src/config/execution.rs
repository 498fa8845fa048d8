//! How GraphQL requests are executed.
use std::str::FromStr;

/// `GRAPHQL_EXECUTION`: `eager` (the default) resolves each object's fields together
/// (`graphql::eager`) and validates a document once, through async-graphql internals of the
/// pinned version (`graphql::engine`); `plain` leaves execution and validation to
/// async-graphql as documented. Answers are the same either way
/// (`tests/api/execution_modes.rs`); plain is slower, and the way back should a new
/// async-graphql change what the eager path relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphqlExecution {
    #[default]
    Eager,
    Plain,
}

impl FromStr for GraphqlExecution {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "eager" => Ok(GraphqlExecution::Eager),
            "plain" => Ok(GraphqlExecution::Plain),
            _ => Err("must be eager or plain".into()),
        }
    }
}
