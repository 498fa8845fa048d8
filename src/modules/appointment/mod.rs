//! Appointments: booking without overlaps, and a status state machine.
pub mod cached;
pub mod columns;
pub mod events;
pub mod input;
pub mod loaders;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;
pub mod subscription;
