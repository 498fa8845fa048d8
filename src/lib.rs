//! clinicgraph: a GraphQL API for clinics.
//!
//! Layers, top to bottom; each names only layers below it (`tests/api/layers.rs` holds the list
//! and checks it): `cli` → `app` (wiring) → `http` (axum), `seed`, `migrate` → `schema`
//! (assembly, `node`), `jobs` → `modules` (per feature: resolvers, thin → service, every rule and
//! authorization decision → repository, the only diesel code; plus the registries and loaders)
//! → `graphql` (the toolkit), `shared` → `audit_trail`, `events`, `cache`, `ratelimit` → `db`,
//! `telemetry` → `config` → `persisted` → `redis`, `core`.
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
pub mod storage;
pub mod telemetry;
