//! Facts about the operation a request will run, read from its parsed document.
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};

/// The type of the operation that will run, when the document says so unambiguously.
pub fn operation_type(document: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(op_name, _)| op_name.as_str() == name)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}
