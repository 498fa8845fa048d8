//! Which positions of an answer may be `null`, for handling field errors as the GraphQL spec
//! says ("Handling Execution Errors"): a field that failed is `null` if its type is nullable;
//! otherwise its parent is, up to the nearest nullable position, or `data` itself.
//!
//! async-graphql instead leaves a failed field out of its parent, and answers `data: null`
//! when every root field failed, nullable or not. Read from the schema's SDL and the request's
//! document once an answer has errors, so answers without errors pay nothing (no per-field
//! extension).
use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, OperationType, Selection, SelectionSet, Type,
    TypeDefinition, TypeKind, TypeSystemDefinition,
};

use super::operation::selected_operation;

/// One step of an error's `path`: a response key or a list index.
pub enum Step<'a> {
    Key(&'a str),
    Index,
}

/// Where a field error leaves its `null`.
#[derive(Debug, PartialEq, Eq)]
pub enum Nearest {
    /// At the position the first `n` steps of the path lead to.
    At(usize),
    /// Nothing on the path may be null: `data` is.
    Data,
    /// The path does not fit the document (not an error async-graphql makes).
    Unknown,
}

/// The output types of the schema: each type's fields with their types, and for an interface
/// or union the object types it may be.
#[derive(Debug, Default)]
pub struct OutputTypes {
    fields: HashMap<String, HashMap<String, Type>>,
    possible: HashMap<String, Vec<String>>,
}

impl OutputTypes {
    /// Reads the output types of `sdl` (the schema's own SDL: it always parses).
    pub fn from_sdl(sdl: &str) -> Self {
        let mut types = Self::default();
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            return types;
        };
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let TypeDefinition { name, kind, .. } = definition.node;
            let name = name.node.to_string();
            let (fields, implements) = match kind {
                TypeKind::Object(object) => (object.fields, object.implements),
                TypeKind::Interface(interface) => (interface.fields, interface.implements),
                TypeKind::Union(union) => {
                    for member in union.members {
                        types
                            .possible
                            .entry(name.clone())
                            .or_default()
                            .push(member.node.to_string());
                    }
                    continue;
                }
                _ => continue,
            };
            for interface in implements {
                types
                    .possible
                    .entry(interface.node.to_string())
                    .or_default()
                    .push(name.clone());
            }
            let fields = fields
                .into_iter()
                .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                .collect();
            types.fields.insert(name, fields);
        }
        types
    }

    /// The type of field `name` on `type_name`, or on one of the types it may be (a field of
    /// an inline fragment on a union or interface).
    fn field_type(&self, type_name: &str, name: &str) -> Option<&Type> {
        let own = self.fields.get(type_name).and_then(|f| f.get(name));
        own.or_else(|| {
            self.possible
                .get(type_name)?
                .iter()
                .find_map(|member| self.fields.get(member)?.get(name))
        })
    }

    /// The nearest position on `path` that may be null.
    pub fn nearest_nullable(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        path: &[Step<'_>],
    ) -> Nearest {
        self.walk(document, operation_name, path)
            .map_or(Nearest::Unknown, |n| n.map_or(Nearest::Data, Nearest::At))
    }

    fn walk(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        path: &[Step<'_>],
    ) -> Option<Option<usize>> {
        let operation = selected_operation(document, operation_name)?;
        let mut type_name = match operation.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        }
        .to_owned();
        let mut selections: Vec<&SelectionSet> = vec![&operation.selection_set.node];
        let mut current: Option<&Type> = None;
        let mut nearest = None;
        for (taken, step) in path.iter().enumerate() {
            let ty = match step {
                Step::Key(key) => {
                    let field = selections
                        .iter()
                        .find_map(|set| find_field(document, set, key))?;
                    let ty = self.field_type(&type_name, field.name.node.as_str())?;
                    selections = vec![&field.selection_set.node];
                    ty
                }
                Step::Index => match &current?.base {
                    BaseType::List(item) => item.as_ref(),
                    BaseType::Named(_) => return None,
                },
            };
            if ty.nullable {
                nearest = Some(taken + 1);
            }
            if let BaseType::Named(name) = &innermost(ty).base {
                type_name = name.to_string();
            }
            current = Some(ty);
        }
        Some(nearest)
    }
}

fn innermost(ty: &Type) -> &Type {
    match &ty.base {
        BaseType::List(item) => innermost(item),
        BaseType::Named(_) => ty,
    }
}

/// The field answered under `key` in `set`, looking into its fragments.
fn find_field<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    key: &str,
) -> Option<&'a Field> {
    set.items
        .iter()
        .find_map(|selection| match &selection.node {
            Selection::Field(field) => {
                (field.node.response_key().node.as_str() == key).then_some(&field.node)
            }
            Selection::InlineFragment(fragment) => {
                find_field(document, &fragment.node.selection_set.node, key)
            }
            Selection::FragmentSpread(spread) => {
                let fragment = document.fragments.get(&spread.node.fragment_name.node)?;
                find_field(document, &fragment.node.selection_set.node, key)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::{Nearest, OutputTypes, Step};

    const SDL: &str = "type Query { patient(id: ID!): Patient node(id: ID!): Node \
        me: User! patients: [Patient!]! } \
        interface Node { id: ID! } \
        type Patient implements Node { id: ID! name: String! notes: String doctor: Doctor } \
        type Doctor implements Node { id: ID! name: String! } \
        type User { email: String! }";

    fn nearest(query: &str, path: &[Step<'_>]) -> Nearest {
        let types = OutputTypes::from_sdl(SDL);
        let document = async_graphql::parser::parse_query(query).expect("parses");
        types.nearest_nullable(&document, None, path)
    }

    #[test]
    fn a_nullable_field_is_its_own_null() {
        assert_eq!(
            nearest("{ p: patient(id: 1) { id } }", &[Step::Key("p")]),
            Nearest::At(1)
        );
        assert_eq!(
            nearest(
                "{ patient(id: 1) { ...F } } fragment F on Patient { notes }",
                &[Step::Key("patient"), Step::Key("notes")]
            ),
            Nearest::At(2)
        );
    }

    #[test]
    fn a_non_null_field_makes_the_nearest_nullable_parent_null() {
        let path = [Step::Key("patient"), Step::Key("doctor"), Step::Key("name")];
        assert_eq!(
            nearest("{ patient(id: 1) { doctor { name } } }", &path),
            Nearest::At(2)
        );
        let path = [Step::Key("node"), Step::Key("name")];
        assert_eq!(
            nearest("{ node(id: 1) { ... on Patient { name } } }", &path),
            Nearest::At(1)
        );
        let path = [Step::Key("patients"), Step::Index, Step::Key("name")];
        assert_eq!(nearest("{ patients { name } }", &path), Nearest::Data);
        assert_eq!(
            nearest("{ me { email } }", &[Step::Key("me")]),
            Nearest::Data
        );
        assert_eq!(
            nearest("{ me { email } }", &[Step::Key("you")]),
            Nearest::Unknown
        );
    }
}
