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
//!
//! The `OutputType` implementations that do this reach into async-graphql's internals and live
//! with every other such use in [`super::engine`].

/// Schema data: objects resolve on async-graphql's own path, field by field. Set with
/// [`PlainExecution`], and when an extension hooks into the resolution of each field (resolver
/// spans), since those hooks only run on that path.
pub struct PlainObjects;

/// Schema data for `GRAPHQL_EXECUTION=plain`: execution as async-graphql does it. Objects
/// resolve as [`PlainObjects`] says (the wrappers only hand them over), and connections read
/// what the client selected through async-graphql's documented `Context::field`. (Such
/// requests are also validated in full every time: see `schema::Schemas`.)
pub struct PlainExecution;

/// An object of type `T`, resolved with its fields driven together.
#[derive(Clone)]
pub struct Eager<T>(pub T);

/// A list of objects of type `T` (`[T!]!` in the schema), each resolved as [`Eager`] does,
/// all of them together.
#[derive(Clone)]
pub struct EagerList<T>(pub Vec<Eager<T>>);

#[cfg(test)]
mod tests;
