use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::model::Patient;
use crate::modules::loaders::{BatchLoader, group_by_shape, load_error};

/// A live patient by id, within the caller's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatientKey(pub i64);

impl Loader<PatientKey> for BatchLoader {
    type Value = Patient;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PatientKey]) -> Result<HashMap<PatientKey, Patient>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let patients = self
            .services
            .patients
            .find_many(&self.caller, &ids)
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
                .services
                .patients
                .per_doctor(&self.caller, &doctor_ids, fetch)
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

/// How many live patients (within the caller's scope) have `0` as their primary doctor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatientCountOfDoctor(pub i64);

impl Loader<PatientCountOfDoctor> for BatchLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[PatientCountOfDoctor],
    ) -> Result<HashMap<PatientCountOfDoctor, i64>, Self::Error> {
        let doctor_ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let counts = self
            .services
            .patients
            .count_per_doctor(&self.caller, &doctor_ids)
            .await
            .map_err(load_error)?;
        // A doctor without patients is absent from the counts: zero, not unknown.
        let mut found: HashMap<PatientCountOfDoctor, i64> =
            keys.iter().map(|&key| (key, 0)).collect();
        for (doctor_id, count) in counts {
            found.insert(PatientCountOfDoctor(doctor_id), count);
        }
        Ok(found)
    }
}
