//! clinicgraph: a GraphQL API for clinics.
//!
//! Layers, top to bottom: `http` (axum) → `graphql` (schema, guards) → `modules/*/resolvers`
//! (thin) → `modules/*/service` (rules, per-record authorization) → `modules/*/repository`
//! (the only diesel code) → `db` (pools for PostgreSQL and SQLite).
pub mod app;
pub mod audit_trail;
pub mod cache;
pub mod cli;
pub mod config;
pub mod core;
pub mod db;
pub mod events;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod migrate;
pub mod modules;
pub mod persisted;
pub mod ratelimit;
pub mod redis;
pub mod schema;
pub mod seed;
pub mod shared;
pub mod telemetry;
