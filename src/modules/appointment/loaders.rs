use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::model::Appointment;
use crate::modules::loaders::{BatchLoader, load_error};

/// An appointment by id, within the caller's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppointmentKey(pub i64);

impl Loader<AppointmentKey> for BatchLoader {
    type Value = Appointment;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[AppointmentKey],
    ) -> Result<HashMap<AppointmentKey, Appointment>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .services
            .appointments
            .find_many(&self.caller, &ids)
            .await
            .map_err(load_error)?;
        Ok(rows
            .into_iter()
            .map(|a| (AppointmentKey(a.id), a))
            .collect())
    }
}
