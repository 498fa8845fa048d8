use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::model::{Prescription, PrescriptionStatus};
use super::repository::PrescriptionParent;
use super::service::READERS;
use crate::core::error::AppError;
use crate::graphql::loaders::{BatchLoader, deal_out, group_by_shape, load_error};

impl BatchLoader {
    /// The service's reader rule, held here too: a nested field's guard is not the only thing
    /// between a RECEPTIONIST and prescription rows.
    fn require_prescription_reader(&self) -> Result<(), async_graphql::Error> {
        if READERS.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::forbidden("your role may not read prescriptions").into())
        }
    }
}

/// The newest `fetch` prescriptions of a patient or an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrescriptionsOf {
    pub parent: PrescriptionParent,
    pub id: i64,
    pub status: Option<PrescriptionStatus>,
    pub fetch: usize,
}

impl Loader<PrescriptionsOf> for BatchLoader {
    type Value = Arc<Vec<Prescription>>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[PrescriptionsOf],
    ) -> Result<HashMap<PrescriptionsOf, Self::Value>, Self::Error> {
        self.require_prescription_reader()?;
        let mut found = HashMap::new();
        for ((parent, status, fetch), ids) in
            group_by_shape(keys, |k| ((k.parent, k.status, k.fetch), k.id))
        {
            let rows = self
                .repos
                .prescriptions
                .list_per_parent(&self.scope, parent, &ids, status, fetch)
                .await
                .map_err(load_error)?;
            let parent_of = |prescription: &Prescription| match parent {
                PrescriptionParent::Patient => Some(prescription.patient_id),
                PrescriptionParent::Appointment => prescription.appointment_id,
            };
            let key_of = |id| PrescriptionsOf {
                parent,
                id,
                status,
                fetch,
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
        self.require_prescription_reader()?;
        let mut found = HashMap::new();
        for ((parent, status), ids) in group_by_shape(keys, |k| ((k.parent, k.status), k.id)) {
            let counts = self
                .repos
                .prescriptions
                .count_per_parent(&self.scope, parent, &ids, status)
                .await
                .map_err(load_error)?;
            for (id, count) in counts {
                found.insert(PrescriptionCountOf { parent, id, status }, count);
            }
        }
        Ok(found)
    }
}
