//! Doctors: staff profiles linked to DOCTOR accounts.
pub mod cached;
pub mod input;
pub mod loaders;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;
