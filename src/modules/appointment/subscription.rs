//! `appointmentChanged`: appointment changes as they happen, over the WebSocket endpoint.
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, Subscription};
use futures_util::{Stream, StreamExt};

use super::events::{AppointmentChange, AppointmentEvent};
use super::resolvers::AppointmentObject;
use super::service::AppointmentService;
use crate::core::context::SessionExpiry;
use crate::core::error::AppError;
use crate::core::ids::{self, NodeType};
use crate::graphql::guards::caller;

/// What happened to the appointment.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AppointmentChangeType")]
pub enum AppointmentChangeType {
    Scheduled,
    Rescheduled,
    StatusChanged,
    Cancelled,
}

impl From<AppointmentChange> for AppointmentChangeType {
    fn from(change: AppointmentChange) -> Self {
        match change {
            AppointmentChange::Scheduled => Self::Scheduled,
            AppointmentChange::Rescheduled => Self::Rescheduled,
            AppointmentChange::StatusChanged => Self::StatusChanged,
            AppointmentChange::Cancelled => Self::Cancelled,
        }
    }
}

pub struct AppointmentChangedEvent(Arc<AppointmentEvent>);

/// One change, with the appointment as it is after it.
#[Object(name = "AppointmentChangedEvent")]
impl AppointmentChangedEvent {
    #[graphql(name = "type")]
    async fn change_type(&self) -> AppointmentChangeType {
        self.0.change.into()
    }

    async fn appointment(&self, ctx: &Context<'_>) -> AppointmentObject {
        AppointmentObject::read(ctx, self.0.appointment.clone())
    }
}

#[derive(Default)]
pub struct AppointmentSubscription;

fn optional_key(id: Option<ID>, node: NodeType, field: &str) -> Result<Option<i64>> {
    id.map(|id| {
        ids::decode_as(node, &id)
            .ok_or_else(|| AppError::invalid(field, format!("is not a {node:?} id")).into())
    })
    .transpose()
}

#[Subscription]
impl AppointmentSubscription {
    /// Every change to an appointment of your clinic that you may see (a PATIENT: only their
    /// own), optionally only those of one doctor and/or one patient. Ends when the access
    /// token expires.
    async fn appointment_changed(
        &self,
        ctx: &Context<'_>,
        doctor_id: Option<ID>,
        patient_id: Option<ID>,
    ) -> Result<impl Stream<Item = AppointmentChangedEvent> + use<>> {
        let caller = caller(ctx)?;
        let doctor_id = optional_key(doctor_id, NodeType::Doctor, "doctorId")?;
        let patient_id = optional_key(patient_id, NodeType::Patient, "patientId")?;
        let changes = ctx.data::<Arc<AppointmentService>>()?.changes(caller);
        Ok(changes
            .take_until(SessionExpiry::reached(ctx))
            .filter(move |event| {
                let appointment = &event.appointment;
                let wanted = doctor_id.is_none_or(|id| id == appointment.doctor_id)
                    && patient_id.is_none_or(|id| id == appointment.patient_id);
                std::future::ready(wanted)
            })
            .map(AppointmentChangedEvent))
    }
}
