//! The prescription part of the schema.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use futures_util::future::BoxFuture;

use super::columns::PartialPrescription;
use super::input::{PrescribeInput, PrescriptionFilterInput};
use super::lists::{PrescriptionParent, Prescriptions};
use super::model::{Prescription, PrescriptionStatus};
use super::service::{PrescriptionService, READERS};
use crate::audit_trail;
use crate::audit_trail::{AuditAction, AuditEntity};
use crate::core::auth::Role;
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{self, NodeType};
use crate::core::pagination::{ConnectionArgs, KeyCursor};
use crate::core::sealing::fields::{
    PRESCRIPTION_DISCONTINUED_REASON, PRESCRIPTION_DOSAGE, PRESCRIPTION_FREQUENCY,
    PRESCRIPTION_ROUTE,
};
use crate::graphql::connection::page_cost;
use crate::graphql::connection::{Connection, respond};
use crate::graphql::eager::Eager;
use crate::graphql::guards::{RoleGuard, caller};
use crate::graphql::scalars::Date;
use crate::graphql::scalars::Timestamp;
use crate::graphql::sealed;
use crate::modules::appointment::AppointmentKey;
use crate::modules::appointment::AppointmentObject;
use crate::modules::doctor::Doctor;
use crate::modules::doctor::DoctorObject;
use crate::modules::doctor::{DoctorKey, WithDoctor, page_doctors};
use crate::modules::loaders::loaders;
use crate::modules::nested::{self, PageList};
use crate::modules::patient::PatientKey;
use crate::modules::patient::PatientObject;

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Arc<PrescriptionService>> {
    ctx.data::<Arc<PrescriptionService>>()
}

fn prescription_key(id: &ID) -> AppResult<i64> {
    ids::decode_as(NodeType::Prescription, id).ok_or(AppError::NotFound("prescription"))
}

pub fn cursor_of(prescription: &Prescription) -> KeyCursor {
    KeyCursor::at(prescription.created_at, prescription.id)
}

/// The prescriptions of the parents of a page, loaded together (see `modules::nested`).
pub type PagePrescriptions = PageList<Prescriptions>;

/// A nested prescriptions connection of a patient or appointment (through `page`, the batch of
/// the page the parent is on, if any). Callers guard it with [`READERS`].
pub async fn prescriptions_of(
    ctx: &Context<'_>,
    parent: PrescriptionParent,
    id: i64,
    status: Option<PrescriptionStatus>,
    first: Option<i32>,
    page: Option<&PagePrescriptions>,
) -> Result<Connection<PrescriptionObject>> {
    let node = |row| PrescriptionObject::read_row(ctx, row);
    nested::connection::<Prescriptions, _>(ctx, parent, id, status, first, page, node).await
}

/// A medication prescribed to a patient by a doctor.
#[derive(Clone)]
pub struct PrescriptionObject {
    /// The columns its read took: a list reads those its selection needs.
    pub prescription: PartialPrescription,
    /// The prescriber, when the batch that read the prescription read it too.
    prescriber: Option<Arc<Doctor>>,
}

impl PrescriptionObject {
    /// The prescription on its way to the caller: recorded in the audit trail.
    pub fn read(ctx: &Context<'_>, prescription: impl Into<PartialPrescription>) -> Self {
        let object = Self::written(prescription);
        audit_trail::read(ctx, &object.prescription);
        object
    }

    /// A prescription a batch read, with its prescriber if it read that too (audited as above).
    pub fn read_row(ctx: &Context<'_>, row: WithDoctor<impl Into<PartialPrescription>>) -> Self {
        let mut object = Self::read(ctx, row.row);
        object.prescriber = row.doctor;
        object
    }

    /// A prescription a mutation just wrote (its caller records it).
    fn written(prescription: impl Into<PartialPrescription>) -> Self {
        Self {
            prescription: prescription.into(),
            prescriber: None,
        }
    }

    /// A column the read left out, from the whole row: only a selection that
    /// [`columns_of`] does not foresee gets here. Boxed, so that this rare path does not
    /// enlarge the future of every field.
    async fn column<T>(
        &self,
        ctx: &Context<'_>,
        read: Option<T>,
        whole: impl FnOnce(Prescription) -> T,
    ) -> Result<T> {
        if let Some(value) = read {
            return Ok(value);
        }
        let id = self.prescription.id;
        let load: BoxFuture<'_, Result<Prescription>> =
            Box::pin(async move { Ok(service(ctx)?.get(caller(ctx)?, id).await?) });
        Ok(whole(load.await?))
    }
}

#[Object(name = "Prescription")]
impl PrescriptionObject {
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Prescription, self.prescription.id).into()
    }

    async fn patient(&self, ctx: &Context<'_>) -> Result<Eager<PatientObject>> {
        let patient = loaders(ctx)?
            .load_one(PatientKey(self.prescription.patient_id))
            .await?
            .ok_or(AppError::PatientNotFound)?;
        Ok(Eager(PatientObject::read(ctx, patient)))
    }

    async fn prescriber(&self, ctx: &Context<'_>) -> Result<Eager<DoctorObject>> {
        if let Some(doctor) = &self.prescriber {
            return Ok(Eager(DoctorObject(doctor.clone())));
        }
        let read = self.prescription.prescriber_id;
        let prescriber_id = self.column(ctx, read, |p| p.prescriber_id).await?;
        let doctor = loaders(ctx)?
            .load_one(DoctorKey(prescriber_id))
            .await?
            .ok_or(AppError::NotFound("doctor"))?;
        Ok(Eager(DoctorObject(doctor)))
    }

    async fn appointment(&self, ctx: &Context<'_>) -> Result<Option<Eager<AppointmentObject>>> {
        let read = self.prescription.appointment_id;
        let Some(id) = self.column(ctx, read, |p| p.appointment_id).await? else {
            return Ok(None);
        };
        let appointment = loaders(ctx)?.load_one(AppointmentKey(id)).await?;
        Ok(appointment.map(|appointment| Eager(AppointmentObject::read(ctx, appointment))))
    }

    async fn medication(&self, ctx: &Context<'_>) -> Result<String> {
        let read = self.prescription.medication.clone();
        self.column(ctx, read, |p| p.medication).await
    }

    async fn dosage(&self, ctx: &Context<'_>) -> Result<String> {
        let read = self.prescription.dosage.clone();
        let sealed = self.column(ctx, read, |p| p.dosage).await?;
        let id = self.prescription.id;
        Ok(sealed::open(ctx, PRESCRIPTION_DOSAGE, id, Some(&sealed))?.unwrap_or_default())
    }

    async fn frequency(&self, ctx: &Context<'_>) -> Result<String> {
        let read = self.prescription.frequency.clone();
        let sealed = self.column(ctx, read, |p| p.frequency).await?;
        let id = self.prescription.id;
        Ok(sealed::open(ctx, PRESCRIPTION_FREQUENCY, id, Some(&sealed))?.unwrap_or_default())
    }

    async fn route(&self, ctx: &Context<'_>) -> Result<String> {
        let read = self.prescription.route.clone();
        let sealed = self.column(ctx, read, |p| p.route).await?;
        let id = self.prescription.id;
        Ok(sealed::open(ctx, PRESCRIPTION_ROUTE, id, Some(&sealed))?.unwrap_or_default())
    }

    async fn start_date(&self, ctx: &Context<'_>) -> Result<Date> {
        let read = self.prescription.start_date;
        Ok(Date(self.column(ctx, read, |p| p.start_date).await?))
    }

    async fn end_date(&self, ctx: &Context<'_>) -> Result<Option<Date>> {
        let read = self.prescription.end_date;
        Ok(self.column(ctx, read, |p| p.end_date).await?.map(Date))
    }

    async fn refills(&self, ctx: &Context<'_>) -> Result<i32> {
        let read = self.prescription.refills;
        self.column(ctx, read, |p| p.refills).await
    }

    async fn status(&self, ctx: &Context<'_>) -> Result<PrescriptionStatus> {
        let read = self.prescription.status;
        self.column(ctx, read, |p| p.status()).await
    }

    async fn discontinued_reason(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let read = self.prescription.discontinued_reason.clone();
        let sealed = self.column(ctx, read, |p| p.discontinued_reason).await?;
        let field = PRESCRIPTION_DISCONTINUED_REASON;
        sealed::open(ctx, field, self.prescription.id, sealed.as_ref())
    }

    async fn created_at(&self) -> Timestamp {
        self.prescription.created_at.and_utc().into()
    }
}

#[derive(Default)]
pub struct PrescriptionQuery;

#[Object]
impl PrescriptionQuery {
    #[graphql(guard = "RoleGuard::reading(READERS, AuditEntity::Prescription)")]
    async fn prescription(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PrescriptionObject>> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let entity = AuditEntity::Prescription;
        let prescription = audit_trail::lookup(ctx, entity, prescription_key(&id), |key| {
            service.get(caller, key)
        })
        .await?;
        Ok(Some(PrescriptionObject::read(ctx, prescription)))
    }

    /// Prescriptions, newest first. Not for RECEPTIONIST; a PATIENT sees their own.
    #[graphql(
        guard = "RoleGuard::reading(READERS, AuditEntity::Prescription)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn prescriptions(
        &self,
        ctx: &Context<'_>,
        filter: Option<PrescriptionFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<PrescriptionObject>> {
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
        let with_prescriber = page_doctors(ctx, "prescriber", &page.items, |row: &Prescription| {
            Some(row.prescriber_id)
        })
        .await?;
        let count = service.count(caller, &filter);
        let node = |prescription| PrescriptionObject::read_row(ctx, with_prescriber(prescription));
        respond(ctx, page, count, cursor_of, node).await
    }
}

#[derive(Default)]
pub struct PrescriptionMutation;

#[Object]
impl PrescriptionMutation {
    /// Written by the calling DOCTOR, who becomes the prescriber.
    #[graphql(guard = "RoleGuard::new(&[Role::Doctor])")]
    async fn prescribe(
        &self,
        ctx: &Context<'_>,
        input: PrescribeInput,
    ) -> Result<PrescriptionObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let work = service.prescribe(caller, input.into());
        let prescription = audit_trail::create(ctx, AuditAction::Prescribe, work).await?;
        Ok(PrescriptionObject::written(prescription))
    }

    /// Stops an ACTIVE prescription; only its prescriber may.
    #[graphql(guard = "RoleGuard::new(&[Role::Doctor])")]
    async fn discontinue_prescription(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<PrescriptionObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::DiscontinuePrescription;
        let prescription = audit_trail::write(ctx, action, prescription_key(&id), |key| {
            service.discontinue(caller, key, &reason)
        })
        .await?;
        Ok(PrescriptionObject::written(prescription))
    }
}
