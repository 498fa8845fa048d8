//! The patient part of the schema: thin resolvers over [`PatientService`].
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::input::{CreatePatientInput, PatientFilterInput, PatientOrderInput, UpdatePatientInput};
use super::model::{BloodGroup, Patient, PatientCursor, PatientFilter, PatientOrder};
use super::policy;
use super::service::PatientService;
use crate::core::error::AppError;
use crate::core::ids::{self, NodeType};
use crate::core::pagination::{ConnectionArgs, Page, encode_cursor};
use crate::graphql::guards::{RoleGuard, caller};
use crate::graphql::pagination::PageInfo;
use crate::graphql::scalars::Date;

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Arc<PatientService>> {
    ctx.data::<Arc<PatientService>>()
}

/// A missing or foreign id reads as "no such patient".
fn patient_key(id: &ID) -> Result<i64> {
    Ok(ids::decode_as(NodeType::Patient, id).ok_or(AppError::PatientNotFound)?)
}

/// A patient of the caller's clinic.
pub struct PatientObject(pub Patient);

#[Object(name = "Patient")]
impl PatientObject {
    /// Opaque global id; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Patient, self.0.id).into()
    }

    /// Human-readable id, e.g. `PAT-000042`.
    async fn patient_id(&self) -> String {
        self.0.patient_number()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    async fn blood_group(&self) -> Option<BloodGroup> {
        self.0.blood_group()
    }

    async fn date_of_birth(&self) -> Date {
        Date(self.0.date_of_birth)
    }

    /// Clinical staff only (ADMIN, DOCTOR, NURSE); FORBIDDEN for other roles.
    #[graphql(guard = "RoleGuard::new(policy::NOTE_READERS)")]
    async fn internal_notes(&self) -> Option<&str> {
        self.0.internal_notes.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at.and_utc()
    }
}

pub struct PatientEdge {
    cursor: String,
    node: Patient,
}

#[Object]
impl PatientEdge {
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    async fn node(&self) -> PatientObject {
        PatientObject(self.node.clone())
    }
}

/// A page of patients. `totalCount` is only computed when asked for.
pub struct PatientConnection {
    page: Page<Patient>,
    order: PatientOrder,
    filter: PatientFilter,
}

impl PatientConnection {
    fn cursor_of(&self, patient: &Patient) -> String {
        encode_cursor(&PatientCursor::for_patient(patient, self.order))
    }
}

#[Object]
impl PatientConnection {
    /// How many patients match the filter, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let count = service(ctx)?.count(caller(ctx)?, &self.filter).await?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.page.has_next_page,
            has_previous_page: self.page.has_previous_page,
            start_cursor: self.page.items.first().map(|p| self.cursor_of(p)),
            end_cursor: self.page.items.last().map(|p| self.cursor_of(p)),
        }
    }

    async fn edges(&self) -> Vec<PatientEdge> {
        self.page
            .items
            .iter()
            .map(|p| PatientEdge {
                cursor: self.cursor_of(p),
                node: p.clone(),
            })
            .collect()
    }

    async fn nodes(&self) -> Vec<PatientObject> {
        self.page.items.iter().cloned().map(PatientObject).collect()
    }
}

#[derive(Default)]
pub struct PatientQuery;

#[Object]
impl PatientQuery {
    /// A patient by global id. Staff read their clinic's patients; a PATIENT only themself.
    async fn patient(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PatientObject>> {
        let caller = caller(ctx)?;
        let patient = service(ctx)?.get(caller, patient_key(&id)?).await?;
        Ok(Some(PatientObject(patient)))
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
        Ok(Some(PatientObject(patient)))
    }

    /// The clinic's patients, newest first unless `orderBy` says otherwise. Pages hold 20 by
    /// default and at most 100.
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per Relay and filter argument of the field"
    )]
    async fn patients(
        &self,
        ctx: &Context<'_>,
        filter: Option<PatientFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        order_by: Option<PatientOrderInput>,
    ) -> Result<PatientConnection> {
        let caller = caller(ctx)?;
        let filter =
            PatientService::scoped_filter(caller, filter.unwrap_or_default().into_filter()?)?;
        let order = order_by.map(PatientOrder::from).unwrap_or_default();
        let args = ConnectionArgs {
            first,
            after,
            last,
            before,
        };
        let page = service(ctx)?.list(caller, &filter, order, args).await?;
        Ok(PatientConnection {
            page,
            order,
            filter,
        })
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
        let patient = service(ctx)?.create(caller(ctx)?, input.into()).await?;
        Ok(PatientObject(patient))
    }

    /// Changes only the fields sent.
    #[graphql(guard = "RoleGuard::new(policy::WRITERS)")]
    async fn update_patient(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePatientInput,
    ) -> Result<PatientObject> {
        let patient = service(ctx)?
            .update(caller(ctx)?, patient_key(&id)?, input.into())
            .await?;
        Ok(PatientObject(patient))
    }

    /// Soft-deletes the patient (ADMIN); `restorePatient` brings it back.
    #[graphql(guard = "RoleGuard::new(policy::ARCHIVERS)")]
    async fn delete_patient(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        Ok(service(ctx)?
            .delete(caller(ctx)?, patient_key(&id)?)
            .await?)
    }

    #[graphql(guard = "RoleGuard::new(policy::ARCHIVERS)")]
    async fn restore_patient(&self, ctx: &Context<'_>, id: ID) -> Result<PatientObject> {
        let patient = service(ctx)?
            .restore(caller(ctx)?, patient_key(&id)?)
            .await?;
        Ok(PatientObject(patient))
    }
}
