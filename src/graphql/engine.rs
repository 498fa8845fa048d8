//! Every use of async-graphql beyond its documented API, in one place.
//!
//! The fast path needs items that async-graphql marks `#[doc(hidden)]`, which may change in
//! any release, patch releases included:
//! - `ContextSelectionSet` and the `registry` module, which the methods of `OutputType` name:
//!   [`Eager`] and [`EagerList`] implement it to drive their fields themselves;
//! - the context's `item`, `schema_env` and `query_env` fields (the field or selection being
//!   resolved, the schema's custom directives and interfaces, the document's fragments) and its
//!   `with_field`, `with_index` and `set_error_path`, with which async-graphql's own resolvers
//!   descend into a selection;
//! - the `indexmap` re-export: the map of a `Value::Object`, grown in place;
//! - the schema's registry (`SchemaEnv`, `MetaType`, `MetaTypeName`), to check a request's
//!   variables against the schema's input types so that a document validated once is not
//!   validated again ([`SchemaInputs`], used by `validation`).
//!
//! So `Cargo.toml` pins async-graphql to the version this was written against, and nothing
//! else in the crate names these items (`only_this_module_names_hidden_items` below). When
//! upgrading, compare the new async-graphql's `context.rs` (the context's fields and methods),
//! `resolver_utils/container.rs` and `resolver_utils/list.rs` (what [`Eager`] and
//! [`EagerList`] do in their own way: field collection, merging, error paths),
//! `registry/mod.rs` and `schema.rs` with what is used here, then run the tests, among them
//! `tests/api/execution_modes.rs`, which compares the answers to every client operation with
//! those of `GRAPHQL_EXECUTION=plain`. Plain execution runs none of this but the wrappers'
//! hand-over: objects resolve through async-graphql's own resolution, connections read the
//! selection through the documented `Context::field`, and every request is validated in full.
//! It is the way back should an upgrade break the fast path.
use std::borrow::Cow;

use async_graphql::extensions::ExtensionContext;
use async_graphql::indexmap::IndexMap;
use async_graphql::indexmap::map::Entry;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, Name, OutputType, Positioned, SchemaEnv,
    ServerResult, Value,
};
use futures_util::future::BoxFuture;

use super::eager::{Eager, EagerList, PlainObjects};

impl<T: ContainerType + Send + Sync> OutputType for Eager<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut fields = Vec::with_capacity(ctx.item.node.items.len());
        if ctx.data_opt::<PlainObjects>().is_some()
            || !collect_fields(ctx, &self.0, &ctx.item.node, &mut fields)
        {
            // Boxed: async-graphql's own path is the rare one here, and inline its future would
            // be most of the size of every field's future of the parent object.
            return Box::pin(self.0.resolve(ctx, field)).await;
        }
        let root = &self.0;
        let results = futures_util::future::join_all(fields.iter().map(|&field| async move {
            if field.node.name.node == "__typename" {
                return Ok(Some(Value::String(
                    root.introspection_type_name().into_owned(),
                )));
            }
            root.resolve_field(&ctx.with_field(field)).await
        }))
        .await;
        let mut object = IndexMap::with_capacity(fields.len());
        for (field, result) in fields.iter().zip(results) {
            match result {
                Ok(value) => merge_field(
                    &mut object,
                    field.node.response_key().node.clone(),
                    value.unwrap_or_default(),
                ),
                Err(error) => ctx.add_error(error),
            }
        }
        Ok(if object.is_empty() {
            Value::Null
        } else {
            Value::Object(object)
        })
    }
}

impl<T: ContainerType + Send + Sync> OutputType for EagerList<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<Eager<T>>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<Eager<T>>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<Eager<T>>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        // A trait object: types nest in cycles (a patient's appointments' patient), and a future
        // holding the future of its own type has no size. Boxed, a page's items are also
        // resolved in an allocation of their own, not inside every field's future.
        let list: BoxFuture<'_, ServerResult<Value>> = if ctx.data_opt::<PlainObjects>().is_some() {
            Box::pin(self.0.resolve(ctx, field))
        } else {
            Box::pin(async move {
                let items = futures_util::future::join_all(self.0.iter().enumerate().map(
                    |(index, item)| async move {
                        let ctx_item = ctx.with_index(index);
                        item.resolve(&ctx_item, field)
                            .await
                            .map_err(|error| ctx_item.set_error_path(error))
                    },
                ))
                .await;
                // Items are non-null: one that fails nulls the list, as for a `Vec`.
                items
                    .into_iter()
                    .collect::<ServerResult<Vec<_>>>()
                    .map(Value::List)
            })
        };
        list.await
    }
}

/// The fields `selection` asks of `root`, fragments flattened, in order. False when a field
/// carries a custom directive, which only async-graphql's own path applies (`@skip` and
/// `@include` were applied before execution: what they removed is gone from the document).
fn collect_fields<'a, T: ContainerType>(
    ctx: &ContextSelectionSet<'a>,
    root: &T,
    selection: &'a SelectionSet,
    fields: &mut Vec<&'a Positioned<Field>>,
) -> bool {
    for item in &selection.items {
        let (condition, inner) = match &item.node {
            Selection::Field(field) => {
                let custom = field.node.directives.iter().any(|directive| {
                    ctx.schema_env
                        .custom_directives
                        .contains_key(directive.node.name.node.as_str())
                });
                if custom {
                    return false;
                }
                fields.push(field);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                // Validation refused unknown fragments before anything ran.
                let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                else {
                    return false;
                };
                (
                    Some(fragment.node.type_condition.node.on.node.as_str()),
                    &fragment.node.selection_set.node,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map(|condition| condition.node.on.node.as_str()),
                &fragment.node.selection_set.node,
            ),
        };
        if applies_to(ctx, root, condition) && !collect_fields(ctx, root, inner, fields) {
            return false;
        }
    }
    true
}

/// Whether a fragment with `condition` applies to `root`: no condition, its own type, or an
/// interface it implements.
fn applies_to<T: ContainerType>(
    ctx: &ContextSelectionSet<'_>,
    root: &T,
    condition: Option<&str>,
) -> bool {
    let Some(condition) = condition else {
        return true;
    };
    let name = root.introspection_type_name();
    name == condition
        || T::type_name() == condition
        || ctx
            .schema_env
            .registry
            .implements
            .get(name.as_ref())
            .is_some_and(|interfaces| interfaces.contains(condition))
}

/// Adds a field to the answer; a response key selected twice (say, once directly and once in a
/// fragment) merges its sub-selections, as the GraphQL spec's field collection does.
fn merge_field(object: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    // One lookup: the map hashes with SipHash, a good part of building an answer.
    let mut existing = match object.entry(key) {
        Entry::Vacant(entry) => {
            entry.insert(value);
            return;
        }
        Entry::Occupied(entry) => entry,
    };
    match (existing.get_mut(), value) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                merge_field(into, key, value);
            }
        }
        (Value::List(into), Value::List(from)) => {
            for (target, value) in into.iter_mut().zip(from) {
                if let (Value::Object(into), Value::Object(from)) = (target, value) {
                    for (key, value) in from {
                        merge_field(into, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Calls `visit` with the name of every field that the selection of the field being resolved
/// has at `path` (field names, aliases ignored, fragments flattened). What
/// `Context::field().selection_set()` walks, without the iterator's allocation at every level:
/// nested pages ask this of each parent, several times.
pub fn each_field_at<'a>(ctx: &Context<'a>, path: &[&str], visit: &mut impl FnMut(&'a str)) {
    for_each_at(
        ctx,
        &ctx.item.node.selection_set.node,
        path,
        &mut |selection| each_field(ctx, selection, visit),
    );
}

/// Whether the selection of the field being resolved reaches `path`, as [`each_field_at`]
/// reads it.
pub fn reaches(ctx: &Context<'_>, path: &[&str]) -> bool {
    let mut found = false;
    for_each_at(ctx, &ctx.item.node.selection_set.node, path, &mut |_| {
        found = true
    });
    found
}

/// Calls `visit` with the selection set of every field at `path` under `selection`.
fn for_each_at<'a>(
    ctx: &Context<'a>,
    selection: &'a SelectionSet,
    path: &[&str],
    visit: &mut impl FnMut(&'a SelectionSet),
) {
    let Some((first, rest)) = path.split_first() else {
        visit(selection);
        return;
    };
    for item in &selection.items {
        match &item.node {
            Selection::Field(field) if field.node.name.node == *first => {
                for_each_at(ctx, &field.node.selection_set.node, rest, visit)
            }
            Selection::Field(_) => {}
            Selection::InlineFragment(fragment) => {
                for_each_at(ctx, &fragment.node.selection_set.node, path, visit)
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                {
                    for_each_at(ctx, &fragment.node.selection_set.node, path, visit)
                }
            }
        }
    }
}

/// Calls `visit` with the name of every field of `selection`, fragments flattened.
fn each_field<'a>(ctx: &Context<'a>, selection: &'a SelectionSet, visit: &mut impl FnMut(&'a str)) {
    for item in &selection.items {
        match &item.node {
            Selection::Field(field) => visit(field.node.name.node.as_str()),
            Selection::InlineFragment(fragment) => {
                each_field(ctx, &fragment.node.selection_set.node, visit)
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                {
                    each_field(ctx, &fragment.node.selection_set.node, visit)
                }
            }
        }
    }
}

/// The schema's input types as async-graphql registered them, which it shows only to
/// extensions.
#[derive(Clone)]
pub struct SchemaInputs(SchemaEnv);

impl SchemaInputs {
    pub fn of(ctx: &ExtensionContext<'_>) -> Self {
        Self(ctx.schema_env.clone())
    }

    /// Whether `value` is a valid input value of type `type_name` (`[ID!]`, `Date`, …), by the
    /// rules async-graphql's own argument check applies.
    pub fn fits(&self, type_name: &str, value: &Value) -> bool {
        fits(&self.0.registry, type_name, value)
    }
}

/// [`SchemaInputs::fits`] in `registry`: lists take a single item, input objects need their
/// required fields and no others, a `@oneOf` object exactly one non-null field.
fn fits(registry: &Registry, type_name: &str, value: &Value) -> bool {
    match MetaTypeName::create(type_name) {
        MetaTypeName::NonNull(inner) => {
            !matches!(value, Value::Null) && fits(registry, inner, value)
        }
        MetaTypeName::List(item) => match value {
            Value::List(items) => items.iter().all(|value| fits(registry, item, value)),
            Value::Null => true,
            single => fits(registry, item, single),
        },
        MetaTypeName::Named(_) if matches!(value, Value::Null) => true,
        MetaTypeName::Named(name) => match registry.types.get(name) {
            Some(MetaType::Scalar { is_valid, .. }) => is_valid.as_ref().is_none_or(|ok| ok(value)),
            Some(MetaType::Enum { enum_values, .. }) => match value {
                Value::Enum(name) => enum_values.contains_key(name.as_str()),
                Value::String(name) => enum_values.contains_key(name.as_str()),
                _ => false,
            },
            Some(MetaType::InputObject {
                input_fields,
                oneof,
                ..
            }) => {
                let Value::Object(values) = value else {
                    return false;
                };
                if *oneof && (values.len() != 1 || values.values().any(|v| *v == Value::Null)) {
                    return false;
                }
                values
                    .keys()
                    .all(|name| input_fields.contains_key(name.as_str()))
                    && input_fields
                        .values()
                        .all(|field| match values.get(field.name.as_str()) {
                            Some(value) => fits(registry, &field.ty, value),
                            None => {
                                field.default_value.is_some()
                                    || !MetaTypeName::create(&field.ty).is_non_null()
                            }
                        })
            }
            _ => false,
        },
    }
}

/// The request's file `index` of a multipart request (`graphql::upload`), if it has one: the
/// files live in the request's hidden environment.
pub fn uploaded_file<'a>(
    ctx: &Context<'a>,
    index: usize,
) -> Option<&'a async_graphql::UploadValue> {
    ctx.query_env.uploads.get(index)
}

#[cfg(test)]
mod tests {
    /// What names a hidden item of async-graphql, as written in this crate. A tripwire, not a
    /// parser: it keeps new uses in this module, where the pin in `Cargo.toml` points.
    const HIDDEN: [&str; 17] = [
        "ContextBase",
        "ContextSelectionSet",
        "async_graphql::registry",
        "async_graphql::indexmap",
        "async_graphql::futures_util",
        "async_graphql::async_trait",
        "SchemaEnv",
        "QueryEnv",
        "schema_env",
        "query_env",
        "execute_data",
        "ctx.item",
        ".with_field(",
        ".with_index(",
        ".with_selection_set(",
        ".set_error_path(",
        "create_field_stream",
    ];

    fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.ends_with("node_modules") {
                continue;
            }
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }

    #[test]
    fn only_this_module_names_hidden_items() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["src", "tests", "benches"] {
            sources(&root.join(dir), &mut files);
        }
        assert!(
            files.len() > 50,
            "sources not found under {}",
            root.display()
        );
        let this = root.join("src/graphql/engine.rs");
        let mut uses = Vec::new();
        for file in files.iter().filter(|file| **file != this) {
            let text = std::fs::read_to_string(file).expect("a source file");
            for (number, line) in text.lines().enumerate() {
                for item in HIDDEN.iter().filter(|item| line.contains(*item)) {
                    uses.push(format!("{}:{}: {item}", file.display(), number + 1));
                }
            }
        }
        assert!(
            uses.is_empty(),
            "async-graphql's hidden items outside src/graphql/engine.rs:\n{}",
            uses.join("\n")
        );
    }
}
