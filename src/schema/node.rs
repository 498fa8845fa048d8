//! The Relay `Node` interface and `node(id:)`.
use std::sync::Arc;

use async_graphql::{Context, ID, Interface, Object};

use crate::audit_trail;
use crate::audit_trail::AuditEntity;
use crate::core::error::AppError;
use crate::core::ids::{self, NodeType};
use crate::graphql::guards::caller;
use crate::modules::appointment::resolvers::AppointmentObject;
use crate::modules::appointment::service::AppointmentService;
use crate::modules::auth::resolvers::UserObject;
use crate::modules::auth::service::AuthService;
use crate::modules::clinic::resolvers::ClinicObject;
use crate::modules::clinic::service::ClinicService;
use crate::modules::doctor::resolvers::DoctorObject;
use crate::modules::doctor::service::DoctorService;
use crate::modules::file::resolvers::PatientFileObject;
use crate::modules::file::service::FileService;
use crate::modules::patient::resolvers::PatientObject;
use crate::modules::patient::service::PatientService;
use crate::modules::prescription::resolvers::PrescriptionObject;
use crate::modules::prescription::service::PrescriptionService;

/// An object with a globally unique, opaque id.
#[derive(Interface)]
#[graphql(name = "Node", field(name = "id", ty = "ID"))]
pub enum Node {
    Patient(PatientObject),
    User(UserObject),
    Clinic(ClinicObject),
    Doctor(DoctorObject),
    Appointment(AppointmentObject),
    Prescription(PrescriptionObject),
    PatientFile(PatientFileObject),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id, with the same access rules as its own query.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let caller = caller(ctx)?;
        let Some((node_type, key)) = ids::decode(&id) else {
            return Err(AppError::NotFound("node").into());
        };
        match node_type {
            NodeType::Patient => {
                let service = ctx.data::<Arc<PatientService>>()?;
                let patient = audit_trail::lookup(ctx, AuditEntity::Patient, Ok(key), |key| {
                    service.get(caller, key)
                })
                .await?;
                Ok(Some(Node::Patient(PatientObject::read(ctx, patient))))
            }
            NodeType::User => {
                let user = ctx.data::<Arc<AuthService>>()?.user(caller, key).await?;
                Ok(Some(Node::User(UserObject(user))))
            }
            NodeType::Clinic => {
                let clinic = ctx.data::<Arc<ClinicService>>()?.own(caller).await?;
                if clinic.id != key {
                    return Err(AppError::NotFound("node").into());
                }
                Ok(Some(Node::Clinic(ClinicObject(clinic))))
            }
            NodeType::Doctor => {
                let doctor = ctx.data::<Arc<DoctorService>>()?.get(caller, key).await?;
                Ok(Some(Node::Doctor(doctor.into())))
            }
            NodeType::Appointment => {
                let service = ctx.data::<Arc<AppointmentService>>()?;
                let appointment =
                    audit_trail::lookup(ctx, AuditEntity::Appointment, Ok(key), |key| {
                        service.get(caller, key)
                    })
                    .await?;
                Ok(Some(Node::Appointment(AppointmentObject::read(
                    ctx,
                    appointment,
                ))))
            }
            NodeType::Prescription => {
                let service = ctx.data::<Arc<PrescriptionService>>()?;
                let entity = AuditEntity::Prescription;
                let prescription =
                    audit_trail::lookup(ctx, entity, Ok(key), |key| service.get(caller, key))
                        .await?;
                Ok(Some(Node::Prescription(PrescriptionObject::read(
                    ctx,
                    prescription,
                ))))
            }
            NodeType::PatientFile => {
                let service = ctx.data::<Arc<FileService>>()?;
                let entity = AuditEntity::PatientFile;
                let file =
                    audit_trail::lookup(ctx, entity, Ok(key), |key| service.readable(caller, key))
                        .await?;
                Ok(Some(Node::PatientFile(PatientFileObject::read(ctx, file))))
            }
        }
    }
}
