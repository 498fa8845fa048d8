//! Cross-cutting building blocks every feature module uses: errors, request context, identity,
//! global ids, pagination and a throttle for background housekeeping.
pub mod auth;
pub mod context;
pub mod error;
pub mod ids;
pub mod pagination;
pub mod patch;
pub mod scope;
pub mod sealing;
pub mod text;
pub mod throttle;
