//! Background jobs as the API shows them; `crate::jobs` runs them.
pub mod model;
pub mod published;
pub mod repository;
pub mod resolvers;
pub mod service;
pub mod subscription;
