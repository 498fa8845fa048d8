//! The `Upload` scalar of GraphQL multipart requests, in place of async-graphql's: that one
//! unwraps the file index it reads from a variable, and indexes the request's files without a
//! bound check, so a client sending `"#__graphql_file__:x"` (or naming a file it never sent)
//! would panic the request. This one refuses both as input errors.
use async_graphql::{
    Context, InputValueError, InputValueResult, Scalar, ScalarType, UploadValue, Value,
};

/// What async-graphql's multipart parser puts in the variable of each file it received.
const MARKER: &str = "#__graphql_file__:";

/// A file of this multipart request (the graphql-multipart-request-spec).
#[derive(Debug, Clone, Copy)]
pub struct Upload(usize);

#[Scalar(name = "Upload")]
/// A file sent in the same GraphQL multipart request (see the README's "Files").
impl ScalarType for Upload {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => text
                .strip_prefix(MARKER)
                .and_then(|index| index.parse().ok())
                .map(Upload)
                .ok_or_else(|| InputValueError::custom("not a file of this multipart request")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::Null
    }
}

impl Upload {
    /// The file, if the request carries it.
    pub fn value(self, ctx: &Context<'_>) -> Option<UploadValue> {
        super::engine::uploaded_file(ctx, self.0).and_then(|file| file.try_clone().ok())
    }
}
