//! Users, login and the `me` query.
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;

// What other modules may use: the rest of this module is its own.
pub use model::{NewUser, UserRow};
pub use repository::UserRepository;
