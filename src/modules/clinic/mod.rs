//! Clinics: the tenant every user and record belongs to.
pub mod cached;
pub mod loaders;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;
