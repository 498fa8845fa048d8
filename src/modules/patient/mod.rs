//! Patients: the records at the heart of the service.
pub mod input;
pub mod loaders;
pub mod model;
pub mod policy;
pub mod repository;
pub mod resolvers;
pub mod service;
pub mod validation;

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod service_tests;

// What other modules may use: the rest of this module is its own.
pub use input::PatientFilterInput;
pub use loaders::{PatientCountOfDoctor, PatientKey, PatientsOfDoctor};
pub use model::{Patient, PatientFilter};
pub use policy::WRITERS;
pub use resolvers::PatientObject;
pub use service::PatientService;
