//! Prescriptions written by a clinic's doctors.
pub mod columns;
pub mod input;
pub mod loaders;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;

// What other modules may use: the rest of this module is its own.
pub use columns::columns_of;
pub use loaders::{PrescriptionCountOf, PrescriptionsOf};
pub use model::PrescriptionStatus;
pub use repository::PrescriptionParent;
pub use resolvers::{PagePrescriptions, PrescriptionObject, prescriptions_of};
pub use service::READERS;
