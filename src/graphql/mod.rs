//! Schema assembly and the GraphQL pieces shared by every module.
pub mod batching;
pub mod bounds;
pub mod connection;
pub mod documents;
pub mod eager;
pub mod guards;
pub mod input_text;
pub mod loaders;
pub mod node;
pub mod nullability;
pub mod operation;
pub mod page_batch;
pub mod pagination;
pub mod resolver_spans;
pub mod scalars;
pub mod schema;
pub mod subscriptions_only;
pub mod validation;

pub use schema::{AppSchema, Schemas, sdl};
