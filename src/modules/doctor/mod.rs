//! Doctors: staff profiles linked to DOCTOR accounts.
pub mod input;
pub mod loaders;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;

// What other modules may use: the rest of this module is its own.
pub use loaders::{DoctorKey, Doctors, WithDoctor, page_doctors, rows_and_named_doctors};
pub use model::{Doctor, DoctorFilter, DoctorWrite, NewDoctor};
pub use repository::{DoctorRepository, doctors_named_by};
pub use resolvers::DoctorObject;
pub use service::DoctorService;
