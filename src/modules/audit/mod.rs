//! The audit trail: who saw or changed which health data, when, and whether it was allowed.
//! Resolvers record into the request's [`crate::audit_trail::AuditTrail`]; [`writer::AuditWriter`] stores
//! it in the background; ADMINs read it with `auditEvents`. Rows are never changed or deleted.
pub mod extension;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;
pub mod writer;
