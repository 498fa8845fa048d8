use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::model::{Appointment, AppointmentFilter};
use super::repository::AppointmentParent;
use crate::graphql::loaders::{BatchLoader, deal_out, group_by_shape, load_error};

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
            .repos
            .appointments
            .find_many(&self.scope, &ids)
            .await
            .map_err(load_error)?;
        Ok(rows
            .into_iter()
            .map(|a| (AppointmentKey(a.id), a))
            .collect())
    }
}

/// The first `fetch` appointments of a patient or a doctor matching `filter` (whose patient and
/// doctor fields are unused: the parent says whose).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppointmentsOf {
    pub parent: AppointmentParent,
    pub id: i64,
    pub filter: AppointmentFilter,
    pub fetch: usize,
}

fn parent_of(parent: AppointmentParent, appointment: &Appointment) -> i64 {
    match parent {
        AppointmentParent::Patient => appointment.patient_id,
        AppointmentParent::Doctor => appointment.doctor_id,
    }
}

impl Loader<AppointmentsOf> for BatchLoader {
    type Value = Arc<Vec<Appointment>>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[AppointmentsOf],
    ) -> Result<HashMap<AppointmentsOf, Self::Value>, Self::Error> {
        let mut found = HashMap::new();
        let groups = group_by_shape(keys, |k| ((k.parent, k.filter.clone(), k.fetch), k.id));
        for ((parent, filter, fetch), ids) in groups {
            let rows = self
                .repos
                .appointments
                .list_per_parent(&self.scope, parent, &ids, &filter, fetch)
                .await
                .map_err(load_error)?;
            let key_of = |id| AppointmentsOf {
                parent,
                id,
                filter: filter.clone(),
                fetch,
            };
            deal_out(&mut found, rows, |row| Some(parent_of(parent, row)), key_of);
        }
        Ok(found)
    }
}

/// How many appointments of a patient or a doctor match `filter`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppointmentCountOf {
    pub parent: AppointmentParent,
    pub id: i64,
    pub filter: AppointmentFilter,
}

impl Loader<AppointmentCountOf> for BatchLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[AppointmentCountOf],
    ) -> Result<HashMap<AppointmentCountOf, i64>, Self::Error> {
        let mut found = HashMap::new();
        for ((parent, filter), ids) in
            group_by_shape(keys, |k| ((k.parent, k.filter.clone()), k.id))
        {
            let counts = self
                .repos
                .appointments
                .count_per_parent(&self.scope, parent, &ids, &filter)
                .await
                .map_err(load_error)?;
            for (id, count) in counts {
                let key = AppointmentCountOf {
                    parent,
                    id,
                    filter: filter.clone(),
                };
                found.insert(key, count);
            }
        }
        Ok(found)
    }
}
