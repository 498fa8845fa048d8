//! In-memory stand-ins for the repositories the patient service uses, enforcing the same rules as
//! the database (tenancy, the live-email unique index, optimistic updates).
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDateTime;

use super::model::{Patient, PatientCursor, PatientFilter, PatientOrder, PatientWrite};
use super::repository::PatientRepository;
use crate::core::pagination::{KeyCursor, PageRequest};
use crate::core::scope::Scope;
use crate::core::sealing::DataKeys;
use crate::db::{DbError, DbResult};
use crate::modules::auth::{NewUser, UserRepository, UserRow};
use crate::modules::doctor::DoctorRepository;
use crate::modules::doctor::{Doctor, DoctorFilter, DoctorWrite, NewDoctor};

#[derive(Clone)]
struct Stored {
    patient: Patient,
    deleted: bool,
}

/// Holds rows in memory and enforces the same unique rule as the database's partial index.
pub struct FakePatients {
    rows: Mutex<Vec<Stored>>,
    keys: Arc<DataKeys>,
}

impl Default for FakePatients {
    fn default() -> Self {
        Self {
            rows: Mutex::default(),
            keys: crate::core::sealing::test_keys(),
        }
    }
}

fn row_from(
    id: i64,
    clinic_id: i64,
    write: PatientWrite,
    created_at: NaiveDateTime,
    keys: &DataKeys,
) -> Patient {
    let sealed = write.sealed(keys, clinic_id, id);
    let plain = write.plain;
    Patient {
        id,
        clinic_id,
        primary_doctor_id: plain.primary_doctor_id,
        name: plain.name,
        email: plain.email,
        phone: sealed.phone,
        blood_group: plain.blood_group,
        date_of_birth: sealed.date_of_birth,
        internal_notes: sealed.internal_notes,
        created_at,
        updated_at: plain.updated_at,
    }
}

impl FakePatients {
    fn email_taken(rows: &[Stored], clinic_id: i64, email: &str, except: i64) -> bool {
        rows.iter().any(|s| {
            !s.deleted
                && s.patient.clinic_id == clinic_id
                && s.patient.email == email
                && s.patient.id != except
        })
    }
}

#[async_trait]
impl PatientRepository for FakePatients {
    async fn find(&self, clinic_id: i64, id: i64) -> DbResult<Option<Patient>> {
        let rows = self.rows.lock().expect("lock");
        Ok(rows
            .iter()
            .find(|s| !s.deleted && s.patient.id == id && s.patient.clinic_id == clinic_id)
            .map(|s| s.patient.clone()))
    }

    async fn list(
        &self,
        clinic_id: i64,
        filter: &PatientFilter,
        _order: PatientOrder,
        page: &PageRequest<PatientCursor>,
    ) -> DbResult<Vec<Patient>> {
        let rows = self.rows.lock().expect("lock");
        Ok(rows
            .iter()
            .filter(|s| !s.deleted && s.patient.clinic_id == clinic_id)
            .filter(|s| filter.only_id.is_none_or(|id| id == s.patient.id))
            .map(|s| s.patient.clone())
            .take(page.limit + 1)
            .collect())
    }

    async fn count(&self, clinic_id: i64, filter: &PatientFilter) -> DbResult<i64> {
        let rows = self.rows.lock().expect("lock");
        Ok(rows
            .iter()
            .filter(|s| !s.deleted && s.patient.clinic_id == clinic_id)
            .filter(|s| filter.only_id.is_none_or(|id| id == s.patient.id))
            .count() as i64)
    }

    async fn find_many(&self, scope: &Scope, ids: &[i64]) -> DbResult<Vec<Patient>> {
        let rows = self.rows.lock().expect("lock");
        Ok(rows
            .iter()
            .filter(|s| !s.deleted && s.patient.clinic_id == scope.clinic_id)
            .filter(|s| {
                ids.contains(&s.patient.id)
                    && scope.patient_id.is_none_or(|own| own == s.patient.id)
            })
            .map(|s| s.patient.clone())
            .collect())
    }

    async fn list_per_doctor(
        &self,
        scope: &Scope,
        doctor_ids: &[i64],
        per_parent: usize,
    ) -> DbResult<Vec<Patient>> {
        let rows = self.rows.lock().expect("lock");
        let mut found = Vec::new();
        for doctor in doctor_ids {
            found.extend(
                rows.iter()
                    .filter(|s| !s.deleted && s.patient.clinic_id == scope.clinic_id)
                    .filter(|s| s.patient.primary_doctor_id == Some(*doctor))
                    .take(per_parent)
                    .map(|s| s.patient.clone()),
            );
        }
        Ok(found)
    }

    async fn count_per_doctor(
        &self,
        scope: &Scope,
        doctor_ids: &[i64],
    ) -> DbResult<Vec<(i64, i64)>> {
        let rows = self.rows.lock().expect("lock");
        Ok(doctor_ids
            .iter()
            .map(|&doctor| {
                let count = rows
                    .iter()
                    .filter(|s| !s.deleted && scope.admits(s.patient.clinic_id, s.patient.id))
                    .filter(|s| s.patient.primary_doctor_id == Some(doctor))
                    .count();
                (doctor, i64::try_from(count).unwrap_or(i64::MAX))
            })
            .filter(|&(_, count)| count > 0)
            .collect())
    }

    async fn insert(&self, clinic_id: i64, write: PatientWrite) -> DbResult<Patient> {
        let mut rows = self.rows.lock().expect("lock");
        if Self::email_taken(&rows, clinic_id, &write.plain.email, 0) {
            return Err(DbError::UniqueViolation(
                "patients_clinic_email_live_key".into(),
            ));
        }
        let created_at = write.plain.updated_at;
        let patient = row_from(
            rows.len() as i64 + 1,
            clinic_id,
            write,
            created_at,
            &self.keys,
        );
        rows.push(Stored {
            patient: patient.clone(),
            deleted: false,
        });
        Ok(patient)
    }

    async fn insert_many(&self, clinic_id: i64, writes: Vec<PatientWrite>) -> DbResult<Vec<i64>> {
        let mut ids = Vec::new();
        for write in writes {
            ids.push(self.insert(clinic_id, write).await?.id);
        }
        Ok(ids)
    }

    async fn update(
        &self,
        clinic_id: i64,
        id: i64,
        seen_at: NaiveDateTime,
        write: PatientWrite,
    ) -> DbResult<Option<Patient>> {
        let mut rows = self.rows.lock().expect("lock");
        if Self::email_taken(&rows, clinic_id, &write.plain.email, id) {
            return Err(DbError::UniqueViolation(
                "patients_clinic_email_live_key".into(),
            ));
        }
        let Some(stored) = rows.iter_mut().find(|s| {
            !s.deleted
                && s.patient.id == id
                && s.patient.clinic_id == clinic_id
                && s.patient.updated_at == seen_at
        }) else {
            return Ok(None);
        };
        stored.patient = row_from(id, clinic_id, write, stored.patient.created_at, &self.keys);
        Ok(Some(stored.patient.clone()))
    }

    async fn soft_delete(&self, clinic_id: i64, id: i64, _at: NaiveDateTime) -> DbResult<bool> {
        let mut rows = self.rows.lock().expect("lock");
        match rows
            .iter_mut()
            .find(|s| !s.deleted && s.patient.id == id && s.patient.clinic_id == clinic_id)
        {
            Some(stored) => {
                stored.deleted = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn restore(
        &self,
        clinic_id: i64,
        id: i64,
        _at: NaiveDateTime,
    ) -> DbResult<Option<Patient>> {
        let mut rows = self.rows.lock().expect("lock");
        let snapshot = rows.clone();
        let Some(stored) = rows
            .iter_mut()
            .find(|s| s.deleted && s.patient.id == id && s.patient.clinic_id == clinic_id)
        else {
            return Ok(None);
        };
        if Self::email_taken(&snapshot, clinic_id, &stored.patient.email, id) {
            return Err(DbError::UniqueViolation(
                "patients_clinic_email_live_key".into(),
            ));
        }
        stored.deleted = false;
        Ok(Some(stored.patient.clone()))
    }
}

/// Doctor 1 works at clinic 1, doctor 2 at clinic 2. The patient service only asks the doctor
/// service whether a doctor is of the clinic; everything else is out of its reach.
pub struct FakeDoctors;

#[async_trait]
impl DoctorRepository for FakeDoctors {
    async fn find_many(&self, clinic_id: i64, ids: &[i64]) -> DbResult<Vec<Doctor>> {
        let at = chrono::DateTime::UNIX_EPOCH.naive_utc();
        Ok(ids
            .iter()
            .filter(|&&id| id == clinic_id && id <= 2)
            .map(|&id| Doctor {
                id,
                clinic_id,
                user_id: None,
                name: format!("Doctor {id}"),
                specialty: "General practice".into(),
                license_number: None,
                email: None,
                created_at: at,
                updated_at: at,
            })
            .collect())
    }

    async fn find_by_user(&self, _clinic_id: i64, _user_id: i64) -> DbResult<Option<Doctor>> {
        unreachable!("not used by the patient service")
    }

    async fn list(
        &self,
        _clinic_id: i64,
        _filter: &DoctorFilter,
        _page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Doctor>> {
        unreachable!("not used by the patient service")
    }

    async fn count(&self, _clinic_id: i64, _filter: &DoctorFilter) -> DbResult<i64> {
        unreachable!("not used by the patient service")
    }

    async fn insert(&self, _doctor: NewDoctor) -> DbResult<Doctor> {
        unreachable!("not used by the patient service")
    }

    async fn update(
        &self,
        _clinic_id: i64,
        _id: i64,
        _write: DoctorWrite,
    ) -> DbResult<Option<Doctor>> {
        unreachable!("not used by the patient service")
    }

    async fn list_ids(&self, clinic_id: i64) -> DbResult<Vec<i64>> {
        Ok(vec![clinic_id])
    }
}

/// The doctor service's accounts: the patient service never reaches them.
pub struct NoUsers;

#[async_trait]
impl UserRepository for NoUsers {
    async fn find_by_email(&self, _email: &str) -> DbResult<Option<UserRow>> {
        unreachable!("not used by the patient service")
    }

    async fn find(&self, _clinic_id: i64, _id: i64) -> DbResult<Option<UserRow>> {
        unreachable!("not used by the patient service")
    }

    async fn insert(&self, _user: NewUser) -> DbResult<UserRow> {
        unreachable!("not used by the patient service")
    }

    async fn any_exist(&self) -> DbResult<bool> {
        unreachable!("not used by the patient service")
    }

    async fn set_disabled(
        &self,
        _email: &str,
        _disabled_at: Option<NaiveDateTime>,
        _at: NaiveDateTime,
    ) -> DbResult<bool> {
        unreachable!("not used by the patient service")
    }

    async fn set_password(&self, _id: i64, _hash: &str, _at: NaiveDateTime) -> DbResult<()> {
        unreachable!("not used by the patient service")
    }

    async fn set_role(
        &self,
        _email: &str,
        _role: &str,
        _at: NaiveDateTime,
    ) -> DbResult<Option<UserRow>> {
        unreachable!("not used by the patient service")
    }

    async fn erase(&self, _email: &str, _at: NaiveDateTime) -> DbResult<bool> {
        unreachable!("not used by the patient service")
    }
}
