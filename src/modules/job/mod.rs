//! Background jobs as the API shows them; `crate::jobs` runs them.
pub mod model;
pub mod published;
pub mod repository;
pub mod resolvers;
pub mod service;
pub mod subscription;

// What other modules may use: the rest of this module is its own.
pub use model::Job;
pub use resolvers::JobObject;
pub use service::JobService;
