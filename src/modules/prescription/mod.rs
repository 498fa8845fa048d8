//! Prescriptions written by a clinic's doctors.
pub mod columns;
pub mod input;
pub mod loaders;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;
