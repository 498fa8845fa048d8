//! Idempotent mutations: a client that retries a mutation after losing its answer sends the
//! same `Idempotency-Key`, and gets the first answer instead of a second write. The HTTP
//! handler claims the key before running the request and stores the answer after.
pub mod model;
pub mod repository;
pub mod service;
