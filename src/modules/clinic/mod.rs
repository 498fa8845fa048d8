//! Clinics: the tenant every user and record belongs to.
pub mod loaders;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;

// What other modules may use: the rest of this module is its own.
pub use resolvers::ClinicObject;
