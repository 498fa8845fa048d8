//! Clinics: the tenant every user and record belongs to. (Its GraphQL type arrives with the
//! appointments issue; for now clinics are created from the command line and by the demo seed.)
pub mod model;
pub mod repository;
