//! One folder per feature: model, repository, service, input, resolvers.
pub mod auth;
pub mod clinic;
pub mod doctor;
pub mod patient;
