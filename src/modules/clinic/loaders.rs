use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::model::Clinic;
use crate::modules::loaders::{BatchLoader, load_error};

/// A clinic by id; only the caller's own clinic is ever returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClinicKey(pub i64);

impl Loader<ClinicKey> for BatchLoader {
    type Value = Clinic;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ClinicKey]) -> Result<HashMap<ClinicKey, Clinic>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let clinics = self
            .services
            .clinics
            .find_many(&self.caller, &ids)
            .await
            .map_err(load_error)?;
        Ok(clinics.into_iter().map(|c| (ClinicKey(c.id), c)).collect())
    }
}
