//! The clinic part of the schema.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use super::loaders::ClinicKey;
use super::model::Clinic;
use super::service::ClinicService;
use crate::core::error::AppError;
use crate::core::ids::{self, NodeType};
use crate::graphql::eager::Eager;
use crate::graphql::guards::caller;
use crate::modules::loaders::loaders;

/// A clinic: the tenant that owns every other record.
#[derive(Clone)]
pub struct ClinicObject(pub Clinic);

impl ClinicObject {
    /// The clinic `clinic_id` of a record the caller has read, through the request's loader.
    pub async fn of_record(ctx: &Context<'_>, clinic_id: i64) -> Result<Eager<Self>> {
        let clinic = loaders(ctx)?
            .load_one(ClinicKey(clinic_id))
            .await?
            .ok_or(AppError::NotFound("clinic"))?;
        Ok(Eager(Self(clinic)))
    }
}

#[Object(name = "Clinic")]
impl ClinicObject {
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Clinic, self.0.id).into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// IANA time zone, e.g. `Europe/London`.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }

    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }

    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
}

#[derive(Default)]
pub struct ClinicQuery;

#[Object]
impl ClinicQuery {
    /// The caller's clinic.
    async fn clinic(&self, ctx: &Context<'_>) -> Result<ClinicObject> {
        let clinic = ctx.data::<Arc<ClinicService>>()?.own(caller(ctx)?).await?;
        Ok(ClinicObject(clinic))
    }
}
