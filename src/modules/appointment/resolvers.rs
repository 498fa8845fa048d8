//! The appointment part of the schema.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use futures_util::future::BoxFuture;

use super::columns::PartialAppointment;
use super::input::{AppointmentFilterInput, RescheduleAppointmentInput, ScheduleAppointmentInput};
use super::lists::{AppointmentParent, Appointments};
use super::loaders::AppointmentKey;
use super::model::{Appointment, AppointmentFilter, AppointmentStatus};
use super::service::{AppointmentService, FRONT_DESK, NOTE_READERS};
use crate::audit_trail;
use crate::audit_trail::{AuditAction, AuditEntity};
use crate::core::auth::Role;
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{self, NodeType};
use crate::core::pagination::{ConnectionArgs, KeyCursor};
use crate::core::sealing::fields::{
    APPOINTMENT_CANCELLATION_REASON, APPOINTMENT_NOTES, APPOINTMENT_REASON,
};
use crate::graphql::connection::page_cost;
use crate::graphql::connection::{Connection, respond};
use crate::graphql::eager::Eager;
use crate::graphql::guards::{RoleGuard, caller};
use crate::graphql::scalars::Timestamp;
use crate::graphql::sealed;
use crate::modules::clinic::ClinicObject;
use crate::modules::doctor::Doctor;
use crate::modules::doctor::DoctorObject;
use crate::modules::doctor::{DoctorKey, WithDoctor, page_doctors};
use crate::modules::loaders::loaders;
use crate::modules::nested::{self, PageList};
use crate::modules::patient::PatientKey;
use crate::modules::patient::PatientObject;
use crate::modules::prescription::PrescriptionObject;
use crate::modules::prescription::READERS as PRESCRIPTION_READERS;
use crate::modules::prescription::{PrescriptionParent, Prescriptions};

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Arc<AppointmentService>> {
    ctx.data::<Arc<AppointmentService>>()
}

fn appointment_key(id: &ID) -> AppResult<i64> {
    ids::decode_as(NodeType::Appointment, id).ok_or(AppError::NotFound("appointment"))
}

pub fn cursor_of(appointment: &Appointment) -> KeyCursor {
    KeyCursor::at(appointment.scheduled_at, appointment.id)
}

/// The appointments of the parents of a page, loaded together (see `modules::nested`).
pub type PageAppointments = PageList<Appointments>;

/// A nested appointments connection of a patient or doctor (through `page`, the batch of the
/// page the parent is on, if any).
pub async fn appointments_of(
    ctx: &Context<'_>,
    parent: AppointmentParent,
    id: i64,
    filter: AppointmentFilter,
    first: Option<i32>,
    page: Option<&PageAppointments>,
) -> Result<Connection<AppointmentObject>> {
    let node = |row| AppointmentObject::read_row(ctx, row);
    nested::connection::<Appointments, _>(ctx, parent, id, filter, first, page, node).await
}

/// A visit of a patient to a doctor.
#[derive(Clone)]
pub struct AppointmentObject {
    /// The columns its read took: a list reads those its selection needs.
    pub appointment: PartialAppointment,
    /// The doctor, when the batch that read the appointment read it too.
    doctor: Option<Arc<Doctor>>,
}

impl AppointmentObject {
    /// The appointment on its way to the caller: recorded in the audit trail.
    pub fn read(ctx: &Context<'_>, appointment: impl Into<PartialAppointment>) -> Self {
        let object = Self::written(appointment);
        audit_trail::read(ctx, &object.appointment);
        object
    }

    /// An appointment a batch read, with its doctor if it read that too (audited as above).
    fn read_row(ctx: &Context<'_>, row: WithDoctor<impl Into<PartialAppointment>>) -> Self {
        let mut object = Self::read(ctx, row.row);
        object.doctor = row.doctor;
        object
    }

    /// An appointment a mutation just wrote (its caller records it).
    fn written(appointment: impl Into<PartialAppointment>) -> Self {
        Self {
            appointment: appointment.into(),
            doctor: None,
        }
    }

    /// A column the read left out, from the whole row: only a selection that
    /// [`columns_of`] does not foresee gets here. Boxed, so that this rare path does not
    /// enlarge the future of every field.
    async fn column<T>(
        &self,
        ctx: &Context<'_>,
        read: Option<T>,
        whole: impl FnOnce(Appointment) -> T,
    ) -> Result<T> {
        if let Some(value) = read {
            return Ok(value);
        }
        let id = self.appointment.id;
        let load: BoxFuture<'_, Result<Option<Appointment>>> =
            Box::pin(async move { loaders(ctx)?.load_one(AppointmentKey(id)).await });
        let appointment = load.await?.ok_or(AppError::NotFound("appointment"))?;
        Ok(whole(appointment))
    }
}

#[Object(name = "Appointment")]
impl AppointmentObject {
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Appointment, self.appointment.id).into()
    }

    async fn patient(&self, ctx: &Context<'_>) -> Result<Eager<PatientObject>> {
        let patient = loaders(ctx)?
            .load_one(PatientKey(self.appointment.patient_id))
            .await?
            .ok_or(AppError::PatientNotFound)?;
        Ok(Eager(PatientObject::read(ctx, patient)))
    }

    async fn doctor(&self, ctx: &Context<'_>) -> Result<Eager<DoctorObject>> {
        if let Some(doctor) = &self.doctor {
            return Ok(Eager(DoctorObject(doctor.clone())));
        }
        let doctor = loaders(ctx)?
            .load_one(DoctorKey(self.appointment.doctor_id))
            .await?
            .ok_or(AppError::NotFound("doctor"))?;
        Ok(Eager(DoctorObject(doctor)))
    }

    async fn clinic(&self, ctx: &Context<'_>) -> Result<Eager<ClinicObject>> {
        let clinic_id = self.appointment.clinic_id;
        let clinic_id = self.column(ctx, clinic_id, |a| a.clinic_id).await?;
        ClinicObject::of_record(ctx, clinic_id).await
    }

    async fn scheduled_at(&self) -> Timestamp {
        self.appointment.scheduled_at.and_utc().into()
    }

    async fn duration_minutes(&self, ctx: &Context<'_>) -> Result<i32> {
        let read = self.appointment.duration_minutes;
        self.column(ctx, read, |a| a.duration_minutes).await
    }

    async fn ends_at(&self, ctx: &Context<'_>) -> Result<Timestamp> {
        let read = self.appointment.ends_at;
        Ok(self
            .column(ctx, read, |a| a.ends_at)
            .await?
            .and_utc()
            .into())
    }

    async fn status(&self, ctx: &Context<'_>) -> Result<AppointmentStatus> {
        let read = self.appointment.status;
        self.column(ctx, read, |a| a.status()).await
    }

    async fn reason(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let read = self.appointment.reason.clone();
        let sealed = self.column(ctx, read, |a| a.reason).await?;
        sealed::open(
            ctx,
            APPOINTMENT_REASON,
            self.appointment.id,
            sealed.as_ref(),
        )
    }

    /// Clinical staff only (ADMIN, DOCTOR, NURSE); FORBIDDEN for other roles.
    #[graphql(guard = "RoleGuard::of(NOTE_READERS, &self.appointment)")]
    async fn notes(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let read = self.appointment.notes.clone();
        let sealed = self.column(ctx, read, |a| a.notes).await?;
        sealed::open(ctx, APPOINTMENT_NOTES, self.appointment.id, sealed.as_ref())
    }

    async fn cancellation_reason(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let read = self.appointment.cancellation_reason.clone();
        let sealed = self.column(ctx, read, |a| a.cancellation_reason).await?;
        let field = APPOINTMENT_CANCELLATION_REASON;
        sealed::open(ctx, field, self.appointment.id, sealed.as_ref())
    }

    /// Prescriptions written at this appointment (at most 100), newest first. Not for
    /// RECEPTIONIST.
    // Counted as 10 for the complexity limit: a visit rarely has more, and weighing it at 100
    // would refuse ordinary nested pages.
    #[graphql(
        guard = "RoleGuard::of(PRESCRIPTION_READERS, &self.appointment)",
        complexity = "10 * child_complexity + 1"
    )]
    async fn prescriptions(&self, ctx: &Context<'_>) -> Result<Vec<PrescriptionObject>> {
        let (parent, id) = (PrescriptionParent::Appointment, self.appointment.id);
        let item = |row| PrescriptionObject::read_row(ctx, row);
        nested::list::<Prescriptions, _>(ctx, parent, id, item).await
    }

    async fn created_at(&self, ctx: &Context<'_>) -> Result<Timestamp> {
        let read = self.appointment.created_at;
        Ok(self
            .column(ctx, read, |a| a.created_at)
            .await?
            .and_utc()
            .into())
    }

    async fn updated_at(&self, ctx: &Context<'_>) -> Result<Timestamp> {
        let read = self.appointment.updated_at;
        Ok(self
            .column(ctx, read, |a| a.updated_at)
            .await?
            .and_utc()
            .into())
    }
}

#[derive(Default)]
pub struct AppointmentQuery;

#[Object]
impl AppointmentQuery {
    /// An appointment of the caller's clinic (a PATIENT: only their own).
    async fn appointment(&self, ctx: &Context<'_>, id: ID) -> Result<Option<AppointmentObject>> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let entity = AuditEntity::Appointment;
        let appointment = audit_trail::lookup(ctx, entity, appointment_key(&id), |key| {
            service.get(caller, key)
        })
        .await?;
        Ok(Some(AppointmentObject::read(ctx, appointment)))
    }

    /// Appointments by start time, earliest first.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn appointments(
        &self,
        ctx: &Context<'_>,
        filter: Option<AppointmentFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<AppointmentObject>> {
        let caller = caller(ctx)?;
        let filter = filter.unwrap_or_default().into_filter()?;
        let service = service(ctx)?;
        let args = ConnectionArgs {
            first,
            after,
            last,
            before,
        };
        let page = service.list(caller, &filter, args).await?;
        let with_doctor = page_doctors(ctx, "doctor", &page.items, |row: &Appointment| {
            Some(row.doctor_id)
        })
        .await?;
        let count = service.count(caller, &filter);
        let node = |appointment| AppointmentObject::read_row(ctx, with_doctor(appointment));
        respond(ctx, page, count, cursor_of, node).await
    }
}

#[derive(Default)]
pub struct AppointmentMutation;

#[Object]
impl AppointmentMutation {
    #[graphql(guard = "RoleGuard::new(FRONT_DESK)")]
    async fn schedule_appointment(
        &self,
        ctx: &Context<'_>,
        input: ScheduleAppointmentInput,
    ) -> Result<AppointmentObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let work = service.schedule(caller, input.into());
        let appointment = audit_trail::create(ctx, AuditAction::ScheduleAppointment, work).await?;
        Ok(AppointmentObject::written(appointment))
    }

    /// Moves the appointment; it goes back to SCHEDULED and needs confirming again.
    #[graphql(guard = "RoleGuard::new(FRONT_DESK)")]
    async fn reschedule_appointment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: RescheduleAppointmentInput,
    ) -> Result<AppointmentObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::RescheduleAppointment;
        let appointment = audit_trail::write(ctx, action, appointment_key(&id), |key| {
            service.reschedule(caller, key, input.scheduled_at.0, input.duration_minutes)
        })
        .await?;
        Ok(AppointmentObject::written(appointment))
    }

    #[graphql(guard = "RoleGuard::new(FRONT_DESK)")]
    async fn confirm_appointment(&self, ctx: &Context<'_>, id: ID) -> Result<AppointmentObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::ConfirmAppointment;
        let appointment = audit_trail::write(ctx, action, appointment_key(&id), |key| {
            service.confirm(caller, key)
        })
        .await?;
        Ok(AppointmentObject::written(appointment))
    }

    #[graphql(guard = "RoleGuard::new(FRONT_DESK)")]
    async fn check_in_appointment(&self, ctx: &Context<'_>, id: ID) -> Result<AppointmentObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::CheckInAppointment;
        let appointment = audit_trail::write(ctx, action, appointment_key(&id), |key| {
            service.check_in(caller, key)
        })
        .await?;
        Ok(AppointmentObject::written(appointment))
    }

    /// By the appointment's own doctor, after check-in.
    #[graphql(guard = "RoleGuard::new(&[Role::Doctor])")]
    async fn complete_appointment(&self, ctx: &Context<'_>, id: ID) -> Result<AppointmentObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::CompleteAppointment;
        let appointment = audit_trail::write(ctx, action, appointment_key(&id), |key| {
            service.complete(caller, key)
        })
        .await?;
        Ok(AppointmentObject::written(appointment))
    }

    /// Staff cancel any appointment; a PATIENT their own.
    async fn cancel_appointment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<AppointmentObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::CancelAppointment;
        let appointment = audit_trail::write(ctx, action, appointment_key(&id), |key| {
            service.cancel(caller, key, &reason)
        })
        .await?;
        Ok(AppointmentObject::written(appointment))
    }

    #[graphql(guard = "RoleGuard::new(FRONT_DESK)")]
    async fn mark_no_show(&self, ctx: &Context<'_>, id: ID) -> Result<AppointmentObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::MarkNoShow;
        let appointment = audit_trail::write(ctx, action, appointment_key(&id), |key| {
            service.mark_no_show(caller, key)
        })
        .await?;
        Ok(AppointmentObject::written(appointment))
    }
}
