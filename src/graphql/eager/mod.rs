//! Resolving an object's fields together instead of as a task each.
//!
//! async-graphql resolves every field of every object as its own boxed future in a
//! `FuturesUnordered` (an allocation and a reference-counted task each) and grows the object's
//! map one insertion at a time. For a page of 20 patients with their appointments, doctors and
//! prescriptions that is about 1,500 fields, and it was the largest cost of such a request (see
//! `bench/README.md`). Most of those fields are plain columns that are ready on the first poll.
//!
//! [`Eager`] wraps an object type and resolves its selection with one `join_all`: one
//! allocation for all the fields' futures, polled in place, and the answer built in selection
//! order into a map sized once. Every field still runs through the type's own generated
//! resolver, so guards, arguments, errors and their paths are the derived ones; the wrapper only
//! changes how the fields are driven. The schema sees the inner type: same name, same fields.
//!
//! [`EagerList`] does the same for the items of a list: async-graphql sends each item of a
//! `Vec` through every extension's `resolve` hook, a boxed future per extension and two type
//! names formatted per item, even when no extension overrides the hook; the page above has
//! about four hundred items.
use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::indexmap::map::Entry;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
};
use futures_util::future::BoxFuture;

/// Schema data set when an extension hooks into the resolution of each field (resolver spans):
/// those hooks only run on async-graphql's own path, so [`Eager`] steps aside.
pub struct PerFieldHooks;

/// An object of type `T`, resolved with its fields driven together.
#[derive(Clone)]
pub struct Eager<T>(pub T);

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
        if ctx.data_opt::<PerFieldHooks>().is_some()
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

/// A list of objects of type `T` (`[T!]!` in the schema), each resolved as [`Eager`] does,
/// all of them together.
#[derive(Clone)]
pub struct EagerList<T>(pub Vec<Eager<T>>);

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
        let list: BoxFuture<'_, ServerResult<Value>> = if ctx.data_opt::<PerFieldHooks>().is_some()
        {
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

#[cfg(test)]
mod tests;
