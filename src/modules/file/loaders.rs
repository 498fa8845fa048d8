use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::model::PatientFile;
use crate::modules::loaders::{BatchLoader, load_error};

/// A patient's current photo (the newest READY one), by patient id: a page of patients reads
/// theirs in one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhotoKey(pub i64);

impl Loader<PhotoKey> for BatchLoader {
    type Value = PatientFile;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PhotoKey]) -> Result<HashMap<PhotoKey, PatientFile>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let photos = self
            .services
            .files
            .photos(&self.caller, &ids)
            .await
            .map_err(load_error)?;
        Ok(photos
            .into_iter()
            .map(|(patient, photo)| (PhotoKey(patient), photo))
            .collect())
    }
}
