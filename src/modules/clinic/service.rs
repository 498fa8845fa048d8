//! The caller's clinic, and creating clinics (the operator's command and the demo seed).
use std::sync::Arc;

use super::model::{Clinic, NewClinic};
use super::repository::ClinicRepository;
use crate::core::auth::Caller;
use crate::core::error::{AppError, AppResult};

pub struct ClinicService {
    clinics: Arc<dyn ClinicRepository>,
}

impl ClinicService {
    pub fn new(clinics: Arc<dyn ClinicRepository>) -> Self {
        Self { clinics }
    }

    /// Every user reads their own clinic, and only that one.
    pub async fn own(&self, caller: &Caller) -> AppResult<Clinic> {
        self.find(caller.clinic_id)
            .await?
            .ok_or(AppError::NotFound("clinic"))
    }

    /// A clinic, for a job acting for it or an operator's command.
    pub async fn find(&self, id: i64) -> AppResult<Option<Clinic>> {
        Ok(self.clinics.find_many(&[id]).await?.pop())
    }

    /// The clinics among `ids` the caller may read: their own, at most (a batch of nested
    /// reads, one statement).
    pub async fn find_many(&self, caller: &Caller, ids: &[i64]) -> AppResult<Vec<Clinic>> {
        let own: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| *id == caller.clinic_id)
            .collect();
        if own.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.clinics.find_many(&own).await?)
    }

    /// The first clinic named `name`: the operator's `seed --patients` default and the demo
    /// seed's idempotency. No caller, so no tenancy check; names are not unique.
    pub async fn find_by_name(&self, name: &str) -> AppResult<Option<Clinic>> {
        Ok(self.clinics.find_by_name(name).await?)
    }

    /// Stores a clinic as given: the operator's `clinic create` (which checks the name) and the
    /// demo seed only. No request can create a clinic.
    pub async fn create(&self, clinic: NewClinic) -> AppResult<Clinic> {
        Ok(self.clinics.insert(clinic).await?)
    }
}
