//! What subscribers hear of appointments.
use serde::{Deserialize, Serialize};

use super::model::Appointment;
use crate::events::Event;

/// What happened to an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppointmentChange {
    Scheduled,
    Rescheduled,
    StatusChanged,
    Cancelled,
}

/// An appointment as it is after a change. Subscribers decide who may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentEvent {
    pub change: AppointmentChange,
    pub appointment: Appointment,
}

impl Event for AppointmentEvent {
    const CHANNEL: &'static str = "appointments";
}
