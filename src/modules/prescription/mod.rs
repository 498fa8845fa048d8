//! Prescriptions written by a clinic's doctors.
pub mod columns;
pub mod input;
pub mod lists;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;

// What other modules may use: the rest of this module is its own.
pub use lists::{PrescriptionParent, Prescriptions};
pub use model::PrescriptionStatus;
pub use resolvers::{PagePrescriptions, PrescriptionObject, prescriptions_of};
pub use service::READERS;
