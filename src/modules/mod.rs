//! One folder per feature: model, repository, service, input, resolvers, loaders.
pub mod appointment;
pub mod audit;
pub mod auth;
pub mod clinic;
pub mod doctor;
pub mod file;
pub mod idempotency;
pub mod job;
pub mod loaders;
pub mod nested;
pub mod patient;
pub mod prescription;
pub mod registry;
pub mod report;
pub mod resealing;
