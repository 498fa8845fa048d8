use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::model::Patient;
use crate::graphql::loaders::{BatchLoader, group_by_shape, load_error};

/// A live patient by id, within the caller's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatientKey(pub i64);

impl Loader<PatientKey> for BatchLoader {
    type Value = Patient;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PatientKey]) -> Result<HashMap<PatientKey, Patient>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let patients = self
            .repos
            .patients
            .find_many(&self.scope, &ids)
            .await
            .map_err(load_error)?;
        Ok(patients
            .into_iter()
            .map(|p| (PatientKey(p.id), p))
            .collect())
    }
}

/// The first `fetch` patients (by name) whose primary doctor is `doctor_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatientsOfDoctor {
    pub doctor_id: i64,
    pub fetch: usize,
}

impl Loader<PatientsOfDoctor> for BatchLoader {
    type Value = Vec<Patient>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[PatientsOfDoctor],
    ) -> Result<HashMap<PatientsOfDoctor, Vec<Patient>>, Self::Error> {
        let mut found: HashMap<PatientsOfDoctor, Vec<Patient>> = HashMap::new();
        for (fetch, doctor_ids) in group_by_shape(keys, |k| (k.fetch, k.doctor_id)) {
            let rows = self
                .repos
                .patients
                .list_per_doctor(&self.scope, &doctor_ids, fetch)
                .await
                .map_err(load_error)?;
            for patient in rows {
                if let Some(doctor_id) = patient.primary_doctor_id {
                    found
                        .entry(PatientsOfDoctor { doctor_id, fetch })
                        .or_default()
                        .push(patient);
                }
            }
        }
        Ok(found)
    }
}
