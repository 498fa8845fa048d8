//! Sessions: what a login starts and each refresh continues, until logout, revocation or
//! expiry; and the standing every request's access token is checked against.
pub mod cookie;
pub mod model;
pub mod refresh_token;
pub mod repository;
pub mod resolvers;
pub mod service;
mod standing;

pub use standing::RECHECK;
