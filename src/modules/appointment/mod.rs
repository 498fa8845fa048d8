//! Appointments: booking without overlaps, and a status state machine.
pub mod columns;
pub mod events;
pub mod input;
pub mod lists;
pub mod loaders;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;
pub mod subscription;

// What other modules may use: the rest of this module is its own.
pub use events::AppointmentChange;
pub use input::nested_filter;
pub use lists::{AppointmentParent, Appointments};
pub use loaders::AppointmentKey;
pub use model::{Appointment, AppointmentFilter, AppointmentStatus};
pub use resolvers::{AppointmentObject, PageAppointments, appointments_of};
pub use service::{AppointmentNotifier, AppointmentService};
