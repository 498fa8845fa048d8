use std::collections::{HashMap, HashSet};
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
        let doctors = self
            .doctors_by_id(keys.iter().map(|k| k.0).collect())
            .await?;
        Ok(doctors
            .into_iter()
            .map(|(id, doctor)| (DoctorKey(id), doctor))
            .collect())
    }
}

impl BatchLoader {
    /// The doctors of the caller's clinic among `ids`, in one statement. A batch of rows that
    /// name doctors (appointments, prescriptions) reads them itself when its page's selection
    /// asks for them: a page names a handful of doctors, and sending each row's `doctor` field
    /// through the DataLoader on its own made a fifth of such a page's work (`bench/README.md`).
    pub async fn doctors_by_id(
        &self,
        ids: HashSet<i64>,
    ) -> Result<HashMap<i64, Arc<Doctor>>, async_graphql::Error> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        let doctors = self
            .repos
            .doctors
            .find_many(self.scope.clinic_id, &ids)
            .await
            .map_err(load_error)?;
        Ok(doctors.into_iter().map(|d| (d.id, Arc::new(d))).collect())
    }
}
