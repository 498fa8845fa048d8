//! Integration tests: the real router over HTTP semantics, on real databases. Every test runs on
//! SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set (`.ci/run` always sets it); each
//! gets a fresh database that is dropped afterwards.
mod helpers;

mod apollo;
mod appointments;
mod audit;
mod audit_storage;
mod auth;
mod browser;
mod cache;
mod cli;
mod dashboard;
mod execution_modes;
mod exports;
mod field_errors;
mod graph;
mod graphiql;
mod hostile;
mod http;
mod http_audit;
mod introspection;
mod job_updates;
mod jobs;
mod layers;
mod limits;
mod nested_lists;
mod notifications;
mod patient_contract;
mod patients;
mod patients_list;
mod patients_search;
mod permissions;
mod persisted;
mod prescriptions;
mod rate_limits;
mod read_paths;
mod readme;
mod reports;
mod resilience;
mod roles;
mod scale_out;
mod schema;
mod statements;
mod subscription_sockets;
mod subscriptions;
mod telemetry;
