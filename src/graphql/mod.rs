//! The GraphQL toolkit every module uses: guards, scalars, connections, batching, document
//! limits. It names no feature module; schema assembly sits above the modules (`crate::schema`).
pub mod batching;
pub mod bounds;
pub mod connection;
pub mod documents;
pub mod eager;
pub mod engine;
pub mod guards;
pub mod input_text;
pub mod nullability;
pub mod operation;
pub mod pagination;
pub mod resolver_spans;
pub mod scalars;
pub mod sealed;
pub mod subscriptions_only;
pub mod upload;
pub mod validation;
