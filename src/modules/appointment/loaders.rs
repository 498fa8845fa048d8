use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::columns::PartialAppointment;
use super::model::{Appointment, AppointmentFilter};
use super::repository::AppointmentParent;
use crate::db::columns::Columns;
use crate::modules::doctor::{Doctors, WithDoctor, rows_and_named_doctors};
use crate::modules::loaders::{BatchLoader, deal_out, group_by_shape, load_error};
use crate::modules::page_batch::PerParentKey;

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

/// The first `fetch` appointments of a patient or a doctor matching `filter` (whose patient and
/// doctor fields are unused: the parent says whose), with `columns` (and the keys), and with
/// their doctors when `with_doctors`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppointmentsOf {
    pub parent: AppointmentParent,
    pub id: i64,
    pub filter: AppointmentFilter,
    pub fetch: usize,
    pub columns: Columns,
    pub with_doctors: bool,
}

impl PerParentKey for AppointmentsOf {
    fn parent(&self) -> i64 {
        self.id
    }

    fn for_parent(&self, parent: i64) -> Self {
        Self {
            id: parent,
            filter: self.filter.clone(),
            ..*self
        }
    }
}

/// An appointment as a nested page read it, with its doctor when the page's selection asked for
/// the doctor (see [`BatchLoader::with_doctors`]).
pub type AppointmentRow = WithDoctor<PartialAppointment>;

fn parent_of(parent: AppointmentParent, appointment: &PartialAppointment) -> i64 {
    match parent {
        AppointmentParent::Patient => appointment.patient_id,
        AppointmentParent::Doctor => appointment.doctor_id,
    }
}

/// What the keys of one statement share: parent kind, filter, rows per parent, columns, doctors
/// or not.
type PageShape = (AppointmentParent, AppointmentFilter, usize, Columns, bool);

impl Loader<AppointmentsOf> for BatchLoader {
    type Value = Arc<Vec<AppointmentRow>>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[AppointmentsOf],
    ) -> Result<HashMap<AppointmentsOf, Self::Value>, Self::Error> {
        let shape = |k: &AppointmentsOf| {
            let shape: PageShape = (
                k.parent,
                k.filter.clone(),
                k.fetch,
                k.columns,
                k.with_doctors,
            );
            (shape, k.id)
        };
        let service = &self.services.appointments;
        let mut groups = Vec::new();
        let mut doctors = Doctors::new();
        for (shape, ids) in group_by_shape(keys, shape) {
            let (parent, ref filter, fetch, columns, with_doctors) = shape;
            let caller = &self.caller;
            let rows = service.per_parent(caller, parent, &ids, filter, fetch, columns);
            let named = with_doctors
                .then(|| service.doctors_per_parent(caller, parent, &ids, filter, fetch));
            let rows = rows_and_named_doctors(rows, named, &mut doctors).await?;
            groups.push((shape, rows));
        }
        let wants = |shape: &PageShape| shape.4;
        let groups = self
            .with_doctors(groups, wants, |row| Some(row.doctor_id), doctors)
            .await?;
        let mut found = HashMap::new();
        for ((parent, filter, fetch, columns, with_doctors), rows) in groups {
            let key_of = |id| AppointmentsOf {
                parent,
                id,
                filter: filter.clone(),
                fetch,
                columns,
                with_doctors,
            };
            let parent_of = |row: &AppointmentRow| Some(parent_of(parent, &row.row));
            deal_out(&mut found, rows, parent_of, key_of);
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
                .services
                .appointments
                .count_per_parent(&self.caller, parent, &ids, &filter)
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
