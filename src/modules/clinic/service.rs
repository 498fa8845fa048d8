//! The caller's clinic.
use std::sync::Arc;

use super::model::Clinic;
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
        self.clinics
            .find_many(&[caller.clinic_id])
            .await?
            .into_iter()
            .next()
            .ok_or(AppError::NotFound("clinic"))
    }

    /// A clinic, for a job acting for it.
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
}
