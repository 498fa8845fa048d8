use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::Loader;

use super::model::Doctor;
use crate::core::error::AppResult;
use crate::graphql::connection::nodes_select;
use crate::modules::loaders::{BatchLoader, load_error, loaders};

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

/// Pairs each row of a root page with the doctor `doctor_of` names, when the page's nodes select
/// `field`: those doctors in one call to the request's loader (none otherwise), handed out by
/// the returned function. One `load_one` per row, from each row's own field, cost a page of 50
/// appointments with their doctors a quarter of its server CPU (`bench/README.md`).
pub async fn page_doctors<R, F>(
    ctx: &Context<'_>,
    field: &str,
    rows: &[R],
    doctor_of: F,
) -> async_graphql::Result<impl Fn(R) -> WithDoctor<R> + use<R, F>>
where
    F: Fn(&R) -> Option<i64>,
{
    let doctors: HashMap<i64, Arc<Doctor>> = if nodes_select(ctx, field) {
        let keys = rows.iter().filter_map(&doctor_of).map(DoctorKey);
        let found = loaders(ctx)?.load_many(keys).await?;
        found
            .into_iter()
            .map(|(key, doctor)| (key.0, doctor))
            .collect()
    } else {
        HashMap::new()
    };
    Ok(move |row: R| WithDoctor {
        doctor: doctor_of(&row).and_then(|id| doctors.get(&id).cloned()),
        row,
    })
}

/// Doctors by id.
pub type Doctors = HashMap<i64, Arc<Doctor>>;

/// The rows `rows` reads, with the doctors `named` reads (if the batch's selection wants them)
/// added to `doctors`: started together, so that PostgreSQL receives both statements at once.
pub async fn rows_and_named_doctors<R>(
    rows: impl Future<Output = AppResult<Vec<R>>>,
    named: Option<impl Future<Output = AppResult<Option<Vec<Doctor>>>>>,
    doctors: &mut Doctors,
) -> Result<Vec<R>, async_graphql::Error> {
    let named = async {
        match named {
            Some(named) => named.await,
            None => Ok(None),
        }
    };
    let (rows, named) = tokio::try_join!(rows, named).map_err(load_error)?;
    doctors.extend(named.into_iter().flatten().map(|d| (d.id, Arc::new(d))));
    Ok(rows)
}

/// A row as a batch read it, with the doctor it names when the batch's selection asked for it.
#[derive(Clone)]
pub struct WithDoctor<R> {
    pub row: R,
    pub doctor: Option<Arc<Doctor>>,
}

impl BatchLoader {
    /// The rows of each group, each with the doctor `doctor_of` names when `wants` says the
    /// group's selection reads it: from `known`, and those it lacks in one statement. A batch
    /// of rows that name doctors (appointments, prescriptions) reads them itself: a page names
    /// a handful of doctors, and sending each row's `doctor` field through the DataLoader on its
    /// own cost a third of the server's CPU on a page of appointments with their doctors
    /// (`bench/README.md`).
    pub async fn with_doctors<S, R>(
        &self,
        groups: Vec<(S, Vec<R>)>,
        wants: impl Fn(&S) -> bool,
        doctor_of: impl Fn(&R) -> Option<i64>,
        known: Doctors,
    ) -> Result<Vec<(S, Vec<WithDoctor<R>>)>, async_graphql::Error> {
        let missing = groups
            .iter()
            .filter(|(shape, _)| wants(shape))
            .flat_map(|(_, rows)| rows.iter().filter_map(&doctor_of))
            .filter(|id| !known.contains_key(id))
            .collect();
        let mut doctors = known;
        doctors.extend(self.doctors_by_id(missing).await?);
        Ok(groups
            .into_iter()
            .map(|(shape, rows)| {
                let wanted = wants(&shape);
                let rows = rows
                    .into_iter()
                    .map(|row| WithDoctor {
                        doctor: wanted
                            .then(|| doctor_of(&row).and_then(|id| doctors.get(&id).cloned()))
                            .flatten(),
                        row,
                    })
                    .collect();
                (shape, rows)
            })
            .collect())
    }

    /// The doctors among `ids` the caller may read, in one statement.
    async fn doctors_by_id(
        &self,
        ids: HashSet<i64>,
    ) -> Result<HashMap<i64, Arc<Doctor>>, async_graphql::Error> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        let doctors = self
            .services
            .doctors
            .find_many(&self.caller, &ids)
            .await
            .map_err(load_error)?;
        Ok(doctors.into_iter().map(|d| (d.id, Arc::new(d))).collect())
    }
}
