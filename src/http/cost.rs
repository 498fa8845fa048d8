//! How many operations a GraphQL document runs, for rate limiting: the root fields of the
//! selected operation, with aliases and fragments spread at the root counted too.
use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};

use crate::graphql::operation::selected_operation;

/// Fragments nested deeper than this at the root are not followed (a valid document never
/// needs it; an invalid one is refused by validation anyway).
const MAX_FRAGMENT_DEPTH: usize = 8;

pub(super) fn root_fields(document: &ExecutableDocument, operation_name: Option<&str>) -> u32 {
    selected_operation(document, operation_name)
        .map_or(1, |op: &OperationDefinition| {
            count(document, &op.selection_set.node, 0)
        })
        .max(1)
}

/// The name (not alias) of the first root field of the selected operation.
pub(super) fn first_root_field(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<String> {
    first_field(
        document,
        &selected_operation(document, operation_name)?
            .selection_set
            .node,
        0,
    )
}

fn first_field(
    document: &ExecutableDocument,
    selections: &SelectionSet,
    depth: usize,
) -> Option<String> {
    if depth > MAX_FRAGMENT_DEPTH {
        return None;
    }
    selections
        .items
        .iter()
        .find_map(|selection| match &selection.node {
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            Selection::InlineFragment(inline) => {
                first_field(document, &inline.node.selection_set.node, depth + 1)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .and_then(|f| first_field(document, &f.node.selection_set.node, depth + 1)),
        })
}

fn count(document: &ExecutableDocument, selections: &SelectionSet, depth: usize) -> u32 {
    if depth > MAX_FRAGMENT_DEPTH {
        return 0;
    }
    selections
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(inline) => {
                count(document, &inline.node.selection_set.node, depth + 1)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |fragment| {
                    count(document, &fragment.node.selection_set.node, depth + 1)
                }),
        })
        .fold(0_u32, u32::saturating_add)
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn cost(query: &str, name: Option<&str>) -> u32 {
        root_fields(&parse_query(query).unwrap(), name)
    }

    #[test]
    fn counts_root_fields_aliases_and_fragments() {
        assert_eq!(cost("{ me { id } }", None), 1);
        assert_eq!(cost("{ a: me { id } b: me { id } c: me { id } }", None), 3);
        assert_eq!(
            cost(
                "query { ...F ... on Query { x: me { id } } } fragment F on Query { me { id } y: me { id } }",
                None
            ),
            3
        );
        assert_eq!(
            cost(
                "query A { me { id } } query B { a: me { id } b: me { id } }",
                Some("B")
            ),
            2
        );
    }

    #[test]
    fn nested_fields_do_not_count() {
        assert_eq!(cost("{ patients { edges { node { id name } } } }", None), 1);
    }
}
