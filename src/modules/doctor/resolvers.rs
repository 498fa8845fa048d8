//! The doctor part of the schema.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use super::input::{CreateDoctorInput, DoctorFilterInput, UpdateDoctorInput};
use super::model::Doctor;
use super::service::DoctorService;
use crate::audit_trail;
use crate::audit_trail::AuditAction;
use crate::core::auth::Role;
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{self, NodeType};
use crate::core::pagination::{ConnectionArgs, KeyCursor};
use crate::graphql::connection::page_cost;
use crate::graphql::connection::{
    Connection, nested_page, nested_size, respond, wants_total_count,
};
use crate::graphql::eager::Eager;
use crate::graphql::guards::{RoleGuard, caller};
use crate::graphql::scalars::Timestamp;
use crate::modules::appointment::AppointmentParent;
use crate::modules::appointment::AppointmentStatus;
use crate::modules::appointment::nested_filter;
use crate::modules::appointment::{AppointmentObject, appointments_of};
use crate::modules::clinic::ClinicObject;
use crate::modules::loaders::loaders;
use crate::modules::patient::PatientObject;
use crate::modules::patient::{PatientCountOfDoctor, PatientsOfDoctor};

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Arc<DoctorService>> {
    ctx.data::<Arc<DoctorService>>()
}

fn doctor_key(id: &ID) -> AppResult<i64> {
    ids::decode_as(NodeType::Doctor, id).ok_or(AppError::NotFound("doctor"))
}

fn cursor_of(doctor: &Doctor) -> KeyCursor {
    KeyCursor {
        key: doctor.name.clone(),
        id: doctor.id,
    }
}

/// A doctor's staff profile.
#[derive(Clone)]
pub struct DoctorObject(pub Arc<Doctor>);

impl From<Doctor> for DoctorObject {
    fn from(doctor: Doctor) -> Self {
        Self(Arc::new(doctor))
    }
}

#[Object(name = "Doctor")]
impl DoctorObject {
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Doctor, self.0.id).into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn specialty(&self) -> &str {
        &self.0.specialty
    }

    async fn license_number(&self) -> Option<&str> {
        self.0.license_number.as_deref()
    }

    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    async fn clinic(&self, ctx: &Context<'_>) -> Result<Eager<ClinicObject>> {
        ClinicObject::of_record(ctx, self.0.clinic_id).await
    }

    /// This doctor's appointments by start time (a PATIENT sees only their own).
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn appointments(
        &self,
        ctx: &Context<'_>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        status: Option<AppointmentStatus>,
        first: Option<i32>,
    ) -> Result<Connection<AppointmentObject>> {
        let filter = nested_filter(status, from, to);
        appointments_of(
            ctx,
            AppointmentParent::Doctor,
            self.0.id,
            filter,
            first,
            None,
        )
        .await
    }

    /// Patients whose primary doctor this is, by name (a PATIENT sees only themself).
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn patients(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Connection<PatientObject>> {
        let size = nested_size(first)?;
        let key = PatientsOfDoctor {
            doctor_id: self.0.id,
            fetch: size + 1,
        };
        let loader = loaders(ctx)?;
        let rows = loader.load_one(key).await?.unwrap_or_default();
        let total = if wants_total_count(ctx) {
            let key = PatientCountOfDoctor(self.0.id);
            Some(loader.load_one(key).await?.unwrap_or(0))
        } else {
            None
        };
        let cursor = |p: &crate::modules::patient::Patient| KeyCursor {
            key: p.name.clone(),
            id: p.id,
        };
        Ok(Connection::build(
            ctx,
            nested_page(rows, size),
            total,
            cursor,
            |patient| PatientObject::read(ctx, patient),
        ))
    }
}

#[derive(Default)]
pub struct DoctorQuery;

#[Object]
impl DoctorQuery {
    async fn doctor(&self, ctx: &Context<'_>, id: ID) -> Result<Option<DoctorObject>> {
        let doctor = service(ctx)?.get(caller(ctx)?, doctor_key(&id)?).await?;
        Ok(Some(doctor.into()))
    }

    /// The clinic's doctors by name.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn doctors(
        &self,
        ctx: &Context<'_>,
        filter: Option<DoctorFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<DoctorObject>> {
        let caller = caller(ctx)?;
        let filter = DoctorService::scoped_filter(filter.unwrap_or_default().into());
        let service = service(ctx)?;
        let args = ConnectionArgs {
            first,
            after,
            last,
            before,
        };
        let page = service.list(caller, &filter, args).await?;
        let count = service.count(caller, &filter);
        respond(ctx, page, count, cursor_of, DoctorObject::from).await
    }
}

#[derive(Default)]
pub struct DoctorMutation;

#[Object]
impl DoctorMutation {
    #[graphql(guard = "RoleGuard::new(&[Role::Admin])")]
    async fn create_doctor(
        &self,
        ctx: &Context<'_>,
        input: CreateDoctorInput,
    ) -> Result<DoctorObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let work = service.create(caller, input.into());
        let doctor = audit_trail::create(ctx, AuditAction::CreateDoctor, work).await?;
        Ok(doctor.into())
    }

    #[graphql(guard = "RoleGuard::new(&[Role::Admin])")]
    async fn update_doctor(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateDoctorInput,
    ) -> Result<DoctorObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let action = AuditAction::UpdateDoctor;
        let doctor = audit_trail::write(ctx, action, doctor_key(&id), |key| {
            service.update(caller, key, input.into())
        })
        .await?;
        Ok(doctor.into())
    }
}
