//! Identity: user accounts, login, sessions and the `me` query.
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;
pub mod session;

// What other modules may use: the rest of this module is its own.
pub use model::{NewUser, UserRow};
pub use repository::UserRepository;
