//! The patient part of the schema: thin resolvers over [`PatientService`].
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use super::input::{CreatePatientInput, PatientFilterInput, PatientOrderInput, UpdatePatientInput};
use super::model::{BloodGroup, Patient, PatientCursor, PatientOrder};
use super::policy;
use super::service::PatientService;
use crate::audit_trail;
use crate::audit_trail::{AuditAction, AuditEntity, Subject};
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{self, NodeType};
use crate::core::pagination::{ConnectionArgs, KeyCursor};
use crate::graphql::connection::page_cost;
use crate::graphql::connection::{Connection, respond};
use crate::graphql::eager::Eager;
use crate::graphql::guards::{RoleGuard, caller};
use crate::graphql::scalars::Date;
use crate::graphql::scalars::Timestamp;
use crate::graphql::sealed;
use crate::modules::appointment::nested_filter;
use crate::modules::appointment::{AppointmentFilter, AppointmentStatus};
use crate::modules::appointment::{AppointmentObject, PageAppointments, appointments_of};
use crate::modules::appointment::{AppointmentParent, Appointments};
use crate::modules::clinic::ClinicObject;
use crate::modules::doctor::Doctor;
use crate::modules::doctor::DoctorObject;
use crate::modules::doctor::{DoctorKey, WithDoctor, page_doctors};
use crate::modules::file::{FileService, PatientFile, PatientFileObject, PhotoKey};
use crate::modules::loaders::loaders;
use crate::modules::nested::{self, PageBatch};
use crate::modules::prescription::PrescriptionStatus;
use crate::modules::prescription::READERS as PRESCRIPTION_READERS;
use crate::modules::prescription::{PagePrescriptions, PrescriptionObject, prescriptions_of};
use crate::modules::prescription::{PrescriptionParent, Prescriptions};

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Arc<PatientService>> {
    ctx.data::<Arc<PatientService>>()
}

/// A missing or foreign id reads as "no such patient".
fn patient_key(id: &ID) -> AppResult<i64> {
    ids::decode_as(NodeType::Patient, id).ok_or(AppError::PatientNotFound)
}

/// A patient of the caller's clinic.
#[derive(Clone)]
pub struct PatientObject {
    pub patient: Patient,
    /// The primary doctor, when the page that read the patient read it too.
    primary_doctor: Option<Arc<Doctor>>,
    /// The nested lists of the page the patient is on, if it is on one.
    page: Option<Arc<PatientPage>>,
}

/// What the patients of one page share: their nested lists, each loaded for all of them by the
/// first patient's field (`modules::nested`).
pub struct PatientPage {
    appointments: PageAppointments,
    prescriptions: PagePrescriptions,
}

impl PatientPage {
    fn of(patients: &[Patient]) -> Arc<Self> {
        let ids: Arc<[i64]> = patients.iter().map(|p| p.id).collect();
        Arc::new(Self {
            appointments: PageBatch::new(Arc::clone(&ids)),
            prescriptions: PageBatch::new(ids),
        })
    }
}

impl PatientObject {
    /// The patient on its way to the caller: recorded in the audit trail.
    pub fn read(ctx: &Context<'_>, patient: Patient) -> Self {
        audit_trail::read(ctx, &patient);
        Self::written(patient)
    }

    /// A patient a page read, with its primary doctor if it read that too (audited as above).
    fn read_row(ctx: &Context<'_>, row: WithDoctor<Patient>) -> Self {
        let mut object = Self::read(ctx, row.row);
        object.primary_doctor = row.doctor;
        object
    }

    /// A patient a mutation just wrote (its caller records it).
    fn written(patient: Patient) -> Self {
        Self {
            patient,
            primary_doctor: None,
            page: None,
        }
    }
}

#[Object(name = "Patient")]
impl PatientObject {
    /// Opaque global id; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Patient, self.patient.id).into()
    }

    /// Human-readable id, e.g. `PAT-000042`.
    async fn patient_id(&self) -> String {
        self.patient.patient_number()
    }

    async fn name(&self) -> &str {
        &self.patient.name
    }

    async fn email(&self) -> &str {
        &self.patient.email
    }

    /// Stored encrypted; `patients(filter: { search })` finds it by exact match of its digits.
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let keys = sealed::keys(ctx)?;
        Ok(self.patient.phone(keys).map_err(AppError::from)?)
    }

    async fn blood_group(&self) -> Option<BloodGroup> {
        self.patient.blood_group()
    }

    /// Null when the patient's date of birth was never given.
    async fn date_of_birth(&self, ctx: &Context<'_>) -> Result<Option<Date>> {
        let keys = sealed::keys(ctx)?;
        let date = self.patient.date_of_birth(keys).map_err(AppError::from)?;
        Ok(date.map(Date))
    }

    /// Clinical staff only (ADMIN, DOCTOR, NURSE); FORBIDDEN for other roles.
    #[graphql(guard = "RoleGuard::of(policy::NOTE_READERS, &self.patient)")]
    async fn internal_notes(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let keys = sealed::keys(ctx)?;
        Ok(self.patient.internal_notes(keys).map_err(AppError::from)?)
    }

    async fn created_at(&self) -> Timestamp {
        self.patient.created_at.and_utc().into()
    }

    async fn updated_at(&self) -> Timestamp {
        self.patient.updated_at.and_utc().into()
    }

    async fn clinic(&self, ctx: &Context<'_>) -> Result<Eager<ClinicObject>> {
        ClinicObject::of_record(ctx, self.patient.clinic_id).await
    }

    async fn primary_doctor(&self, ctx: &Context<'_>) -> Result<Option<Eager<DoctorObject>>> {
        let Some(id) = self.patient.primary_doctor_id else {
            return Ok(None);
        };
        if let Some(doctor) = &self.primary_doctor {
            return Ok(Some(Eager(DoctorObject(doctor.clone()))));
        }
        Ok(loaders(ctx)?
            .load_one(DoctorKey(id))
            .await?
            .map(|doctor| Eager(DoctorObject(doctor))))
    }

    /// The patient's current photo (the newest READY one), to recognise them at the desk.
    async fn photo(&self, ctx: &Context<'_>) -> Result<Option<PatientFileObject>> {
        let photo = loaders(ctx)?.load_one(PhotoKey(self.patient.id)).await?;
        Ok(photo.map(|file| PatientFileObject::read(ctx, file)))
    }

    /// The patient's documents (scans, consent forms, lab results), newest first, in every
    /// status.
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<PatientFileObject>> {
        let (files, caller) = (ctx.data::<Arc<FileService>>()?, caller(ctx)?);
        let args = ConnectionArgs {
            first,
            after,
            ..Default::default()
        };
        let page = files.documents(caller, &self.patient, args).await?;
        let count = files.count_documents(caller, &self.patient);
        let cursor = |file: &PatientFile| KeyCursor::at(file.created_at, file.id);
        respond(ctx, page, count, cursor, |file| {
            PatientFileObject::read(ctx, file)
        })
        .await
    }

    /// This patient's appointments by start time, earliest first.
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn appointments(
        &self,
        ctx: &Context<'_>,
        status: Option<AppointmentStatus>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        first: Option<i32>,
    ) -> Result<Connection<AppointmentObject>> {
        let filter = nested_filter(status, from, to);
        appointments_of(
            ctx,
            AppointmentParent::Patient,
            self.patient.id,
            filter,
            first,
            self.page.as_ref().map(|page| &page.appointments),
        )
        .await
    }

    async fn appointment_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let (parent, id) = (AppointmentParent::Patient, self.patient.id);
        let count = nested::count::<Appointments>(ctx, parent, id, AppointmentFilter::default());
        let count = count.await?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    /// This patient's prescriptions, newest first. Not for RECEPTIONIST.
    #[graphql(
        guard = "RoleGuard::of(PRESCRIPTION_READERS, &self.patient)",
        complexity = "page_cost(first, None, child_complexity)"
    )]
    async fn prescriptions(
        &self,
        ctx: &Context<'_>,
        status: Option<PrescriptionStatus>,
        first: Option<i32>,
    ) -> Result<Connection<PrescriptionObject>> {
        prescriptions_of(
            ctx,
            PrescriptionParent::Patient,
            self.patient.id,
            status,
            first,
            self.page.as_ref().map(|page| &page.prescriptions),
        )
        .await
    }

    #[graphql(guard = "RoleGuard::of(PRESCRIPTION_READERS, &self.patient)")]
    async fn prescription_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let (parent, id) = (PrescriptionParent::Patient, self.patient.id);
        let count = nested::count::<Prescriptions>(ctx, parent, id, None).await?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

#[derive(Default)]
pub struct PatientQuery;

#[Object]
impl PatientQuery {
    /// A patient by global id. Staff read their clinic's patients; a PATIENT only themself.
    async fn patient(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Eager<PatientObject>>> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let patient = audit_trail::lookup(ctx, AuditEntity::Patient, patient_key(&id), |key| {
            service.get(caller, key)
        })
        .await?;
        Ok(Some(Eager(PatientObject::read(ctx, patient))))
    }

    /// A patient by human-readable id (`PAT-000042`).
    async fn patient_by_patient_id(
        &self,
        ctx: &Context<'_>,
        patient_id: String,
    ) -> Result<Option<PatientObject>> {
        let patient = service(ctx)?
            .get_by_number(caller(ctx)?, &patient_id)
            .await?;
        Ok(Some(PatientObject::read(ctx, patient)))
    }

    /// The clinic's patients, newest first unless `orderBy` says otherwise. Pages hold 20 by
    /// default and at most 100.
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per Relay and filter argument of the field"
    )]
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn patients(
        &self,
        ctx: &Context<'_>,
        filter: Option<PatientFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        order_by: Option<PatientOrderInput>,
    ) -> Result<Connection<PatientObject>> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let filter = filter.unwrap_or_default().into_filter()?;
        let filter = service.filter(caller, filter).await?;
        let order = order_by.map(PatientOrder::from).unwrap_or_default();
        let args = ConnectionArgs {
            first,
            after,
            last,
            before,
        };
        let page = service.list(caller, &filter, order, args).await?;
        let count = service.count(caller, &filter);
        let cursor = |patient: &Patient| PatientCursor::for_patient(patient, order);
        let with_doctor = page_doctors(ctx, "primaryDoctor", &page.items, |row: &Patient| {
            row.primary_doctor_id
        })
        .await?;
        let shared = PatientPage::of(&page.items);
        let node = |patient| PatientObject {
            page: Some(Arc::clone(&shared)),
            ..PatientObject::read_row(ctx, with_doctor(patient))
        };
        respond(ctx, page, count, cursor, node).await
    }
}

#[derive(Default)]
pub struct PatientMutation;

#[Object]
impl PatientMutation {
    #[graphql(guard = "RoleGuard::new(policy::WRITERS)")]
    async fn create_patient(
        &self,
        ctx: &Context<'_>,
        input: CreatePatientInput,
    ) -> Result<PatientObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let work = service.create(caller, input.into());
        let patient = audit_trail::create(ctx, AuditAction::CreatePatient, work).await?;
        Ok(PatientObject::written(patient))
    }

    /// Changes only the fields sent.
    #[graphql(guard = "RoleGuard::new(policy::WRITERS)")]
    async fn update_patient(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePatientInput,
    ) -> Result<PatientObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::UpdatePatient;
        let patient = audit_trail::write(ctx, action, patient_key(&id), |key| {
            service.update(caller, key, input.into())
        })
        .await?;
        Ok(PatientObject::written(patient))
    }

    /// Soft-deletes the patient (ADMIN). Their appointments and prescriptions go with them: not
    /// found by id and in no list, until `restorePatient` brings them all back.
    #[graphql(guard = "RoleGuard::new(policy::ARCHIVERS)")]
    async fn delete_patient(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::DeletePatient;
        audit_trail::write(ctx, action, patient_key(&id), async |key| {
            service
                .delete(caller, key)
                .await
                .map(|_| Subject::patient(key))
        })
        .await?;
        Ok(true)
    }

    #[graphql(guard = "RoleGuard::new(policy::ARCHIVERS)")]
    async fn restore_patient(&self, ctx: &Context<'_>, id: ID) -> Result<PatientObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::RestorePatient;
        let patient = audit_trail::write(ctx, action, patient_key(&id), |key| {
            service.restore(caller, key)
        })
        .await?;
        Ok(PatientObject::written(patient))
    }
}
