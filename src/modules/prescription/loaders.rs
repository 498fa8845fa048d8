use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::columns::PartialPrescription;
use super::model::PrescriptionStatus;
use super::repository::PrescriptionParent;
use crate::db::columns::Columns;
use crate::modules::doctor::{Doctors, WithDoctor, rows_and_named_doctors};
use crate::modules::loaders::{BatchLoader, deal_out, group_by_shape, load_error};
use crate::modules::page_batch::PerParentKey;

/// The newest `fetch` prescriptions of a patient or an appointment, with `columns` (and the
/// keys), and with their prescribers when `with_prescribers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrescriptionsOf {
    pub parent: PrescriptionParent,
    pub id: i64,
    pub status: Option<PrescriptionStatus>,
    pub fetch: usize,
    pub columns: Columns,
    pub with_prescribers: bool,
}

impl PerParentKey for PrescriptionsOf {
    fn parent(&self) -> i64 {
        self.id
    }

    fn for_parent(&self, parent: i64) -> Self {
        Self {
            id: parent,
            ..*self
        }
    }
}

/// A prescription as a nested list read it, with its prescriber when the list's selection asked
/// for the prescriber (see [`BatchLoader::with_doctors`]).
pub type PrescriptionRow = WithDoctor<PartialPrescription>;

/// What the keys of one statement share: parent kind, status, rows per parent, columns,
/// prescribers or not.
type ListShape = (
    PrescriptionParent,
    Option<PrescriptionStatus>,
    usize,
    Columns,
    bool,
);

impl Loader<PrescriptionsOf> for BatchLoader {
    type Value = Arc<Vec<PrescriptionRow>>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[PrescriptionsOf],
    ) -> Result<HashMap<PrescriptionsOf, Self::Value>, Self::Error> {
        let shape = |k: &PrescriptionsOf| {
            let shape: ListShape = (k.parent, k.status, k.fetch, k.columns, k.with_prescribers);
            (shape, k.id)
        };
        let service = &self.services.prescriptions;
        let mut groups = Vec::new();
        let mut prescribers = Doctors::new();
        for (shape, ids) in group_by_shape(keys, shape) {
            let (parent, status, fetch, columns, with_prescribers) = shape;
            let caller = &self.caller;
            let rows = service.per_parent(caller, parent, &ids, status, fetch, columns);
            let named = with_prescribers
                .then(|| service.prescribers_per_parent(caller, parent, &ids, status, fetch));
            let rows = rows_and_named_doctors(rows, named, &mut prescribers).await?;
            groups.push((shape, rows));
        }
        let wants = |shape: &ListShape| shape.4;
        let groups = self
            .with_doctors(groups, wants, |row| row.prescriber_id, prescribers)
            .await?;
        let mut found = HashMap::new();
        for ((parent, status, fetch, columns, with_prescribers), rows) in groups {
            let parent_of = |row: &PrescriptionRow| match parent {
                PrescriptionParent::Patient => Some(row.row.patient_id),
                PrescriptionParent::Appointment => row.row.appointment_id.flatten(),
            };
            let key_of = |id| PrescriptionsOf {
                parent,
                id,
                status,
                fetch,
                columns,
                with_prescribers,
            };
            deal_out(&mut found, rows, parent_of, key_of);
        }
        Ok(found)
    }
}

/// How many prescriptions (of a status) a patient or an appointment has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrescriptionCountOf {
    pub parent: PrescriptionParent,
    pub id: i64,
    pub status: Option<PrescriptionStatus>,
}

impl Loader<PrescriptionCountOf> for BatchLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[PrescriptionCountOf],
    ) -> Result<HashMap<PrescriptionCountOf, i64>, Self::Error> {
        let mut found = HashMap::new();
        for ((parent, status), ids) in group_by_shape(keys, |k| ((k.parent, k.status), k.id)) {
            let counts = self
                .services
                .prescriptions
                .count_per_parent(&self.caller, parent, &ids, status)
                .await
                .map_err(load_error)?;
            for (id, count) in counts {
                found.insert(PrescriptionCountOf { parent, id, status }, count);
            }
        }
        Ok(found)
    }
}
