//! GraphQL inputs of the appointment API.
use async_graphql::{ID, InputObject};

use super::model::{AppointmentFilter, AppointmentStatus};
use super::service::ScheduleRequest;
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{NodeType, decode_as};
use crate::graphql::scalars::Timestamp;

#[derive(InputObject, Debug)]
pub struct ScheduleAppointmentInput {
    pub patient_id: ID,
    pub doctor_id: ID,
    /// Must be in the future; stored to the second.
    pub scheduled_at: Timestamp,
    /// 5 to 480.
    #[graphql(default = 30)]
    pub duration_minutes: i32,
    pub reason: Option<String>,
    /// Clinical notes: only ADMIN, DOCTOR and NURSE may send them (FORBIDDEN otherwise).
    pub notes: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct RescheduleAppointmentInput {
    pub scheduled_at: Timestamp,
    /// Keeps the current length when omitted.
    pub duration_minutes: Option<i32>,
}

/// Narrows appointment lists; fields combine with AND.
#[derive(InputObject, Debug, Default)]
#[graphql(name = "AppointmentFilter")]
pub struct AppointmentFilterInput {
    pub patient_id: Option<ID>,
    pub doctor_id: Option<ID>,
    pub status: Option<AppointmentStatus>,
    /// Starting at or after.
    pub from: Option<Timestamp>,
    /// Starting before.
    pub to: Option<Timestamp>,
}

impl From<ScheduleAppointmentInput> for ScheduleRequest {
    fn from(input: ScheduleAppointmentInput) -> Self {
        ScheduleRequest {
            patient_id: decode_as(NodeType::Patient, &input.patient_id),
            doctor_id: decode_as(NodeType::Doctor, &input.doctor_id),
            scheduled_at: input.scheduled_at.0,
            duration_minutes: input.duration_minutes,
            reason: input.reason,
            notes: input.notes,
        }
    }
}

impl AppointmentFilterInput {
    pub fn into_filter(self) -> AppResult<AppointmentFilter> {
        let id = |value: Option<ID>, node_type, field: &str| match value {
            None => Ok(None),
            Some(id) => decode_as(node_type, &id)
                .map(Some)
                .ok_or_else(|| AppError::invalid(field, "is not an id of that type")),
        };
        Ok(AppointmentFilter {
            patient_id: id(self.patient_id, NodeType::Patient, "filter.patientId")?,
            doctor_id: id(self.doctor_id, NodeType::Doctor, "filter.doctorId")?,
            status: self.status,
            from: self.from.map(|t| t.0.naive_utc()),
            to: self.to.map(|t| t.0.naive_utc()),
        })
    }
}

/// The filter arguments of nested appointment lists.
pub fn nested_filter(
    status: Option<AppointmentStatus>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> AppointmentFilter {
    AppointmentFilter {
        status,
        from: from.map(|t| t.0.naive_utc()),
        to: to.map(|t| t.0.naive_utc()),
        ..Default::default()
    }
}
