//! Clinic reports: a period's figures (appointments by status, the no-show rate, new patients,
//! active prescriptions by medication), made by a background job as a PDF and a JSON summary.
pub mod model;
pub mod repository;
pub mod service;
