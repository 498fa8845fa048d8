//! Facts about the operation a request will run, read from its parsed document.
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
};

/// The operation that will run, when the document says so unambiguously (one operation, or
/// the one `name` names).
pub fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(op_name, _)| op_name.as_str() == name)
            .map(|(_, op)| &op.node),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The type of the operation that will run, when the document says so unambiguously.
pub fn operation_type(document: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    selected_operation(document, name).map(|op| op.ty)
}
