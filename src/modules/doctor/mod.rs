//! Doctors: staff profiles. This issue needs them as the primary doctor of a patient; their
//! GraphQL type and management arrive with the appointments issue.
pub mod model;
pub mod repository;
