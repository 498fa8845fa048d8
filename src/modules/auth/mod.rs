//! Users, login and the `me` query.
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;
