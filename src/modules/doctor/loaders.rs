use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::model::Doctor;
use crate::graphql::loaders::{BatchLoader, load_error};

/// A doctor of the caller's clinic by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DoctorKey(pub i64);

impl Loader<DoctorKey> for BatchLoader {
    /// Shared: the doctor of every appointment on a page is a handful of doctors, each handed
    /// to many fields.
    type Value = Arc<Doctor>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[DoctorKey],
    ) -> Result<HashMap<DoctorKey, Arc<Doctor>>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let doctors = self
            .repos
            .doctors
            .find_many(self.scope.clinic_id, &ids)
            .await
            .map_err(load_error)?;
        Ok(doctors
            .into_iter()
            .map(|d| (DoctorKey(d.id), Arc::new(d)))
            .collect())
    }
}
