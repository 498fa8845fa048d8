//! The patient service's rules against in-memory fakes: tenancy, roles, validation, duplicates.
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};

use super::model::{Patient, PatientCursor, PatientFilter, PatientOrder, PatientWrite};
use super::repository::PatientRepository;
use super::service::PatientService;
use super::validation::{DoctorRef, Patch, PatientInput};
use crate::core::auth::{Caller, Role};
use crate::core::error::AppError;
use crate::core::pagination::{ConnectionArgs, KeyCursor, PageRequest};
use crate::core::scope::Scope;
use crate::db::{DbError, DbResult};
use crate::modules::doctor::model::{Doctor, DoctorFilter, DoctorWrite, NewDoctor};
use crate::modules::doctor::repository::DoctorRepository;

#[derive(Clone)]
struct Stored {
    patient: Patient,
    deleted: bool,
}

/// Holds rows in memory and enforces the same unique rule as the database's partial index.
#[derive(Default)]
struct FakePatients {
    rows: Mutex<Vec<Stored>>,
}

fn row_from(id: i64, clinic_id: i64, write: PatientWrite, created_at: NaiveDateTime) -> Patient {
    Patient {
        id,
        clinic_id,
        primary_doctor_id: write.primary_doctor_id,
        name: write.name,
        email: write.email,
        phone: write.phone,
        blood_group: write.blood_group,
        date_of_birth: write.date_of_birth,
        internal_notes: write.internal_notes,
        created_at,
        updated_at: write.updated_at,
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
            .filter(|s| ids.contains(&s.patient.id) && scope.admits_patient(s.patient.id))
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

    async fn insert(&self, clinic_id: i64, write: PatientWrite) -> DbResult<Patient> {
        let mut rows = self.rows.lock().expect("lock");
        if Self::email_taken(&rows, clinic_id, &write.email, 0) {
            return Err(DbError::UniqueViolation(
                "patients_clinic_email_live_key".into(),
            ));
        }
        let created_at = write.updated_at;
        let patient = row_from(rows.len() as i64 + 1, clinic_id, write, created_at);
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
        if Self::email_taken(&rows, clinic_id, &write.email, id) {
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
        stored.patient = row_from(id, clinic_id, write, stored.patient.created_at);
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

/// Doctor 1 works at clinic 1, doctor 2 at clinic 2. The patient service only asks whether
/// a doctor exists; everything else is out of its reach.
struct FakeDoctors;

#[async_trait]
impl DoctorRepository for FakeDoctors {
    async fn exists_in_clinic(&self, clinic_id: i64, doctor_id: i64) -> DbResult<bool> {
        Ok(doctor_id == clinic_id && doctor_id <= 2)
    }

    async fn find_many(&self, _clinic_id: i64, _ids: &[i64]) -> DbResult<Vec<Doctor>> {
        unreachable!("not used by the patient service")
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

fn service() -> PatientService {
    PatientService::new(Arc::new(FakePatients::default()), Arc::new(FakeDoctors))
}

fn caller(role: Role, clinic_id: i64) -> Caller {
    Caller {
        user_id: 100,
        clinic_id,
        role,
        patient_id: None,
    }
}

fn input(email: &str) -> PatientInput {
    PatientInput {
        name: Patch::Set("Ann Lee".into()),
        email: Patch::Set(email.into()),
        phone: Patch::Set("5551234567".into()),
        date_of_birth: Patch::Set(NaiveDate::from_ymd_opt(1980, 1, 2).expect("date")),
        ..Default::default()
    }
}

#[tokio::test]
async fn creates_with_normalised_fields() {
    let patients = service();
    let created = patients
        .create(&caller(Role::Receptionist, 1), input("Ann@Example.com"))
        .await
        .expect("created");
    assert_eq!(created.email, "ann@example.com");
    assert_eq!(created.clinic_id, 1);
}

#[tokio::test]
async fn a_duplicate_email_in_the_clinic_is_refused_but_another_clinic_may_reuse_it() {
    let patients = service();
    patients
        .create(&caller(Role::Nurse, 1), input("ann@example.com"))
        .await
        .expect("first");
    let second = patients
        .create(&caller(Role::Nurse, 1), input("ANN@example.com"))
        .await;
    assert!(matches!(second, Err(AppError::DuplicateEmail)));
    patients
        .create(&caller(Role::Nurse, 2), input("ann@example.com"))
        .await
        .expect("other clinic");
}

#[tokio::test]
async fn another_clinics_record_is_not_found() {
    let patients = service();
    let created = patients
        .create(&caller(Role::Admin, 1), input("ann@example.com"))
        .await
        .expect("created");
    let foreign = caller(Role::Admin, 2);
    assert!(matches!(
        patients.get(&foreign, created.id).await,
        Err(AppError::PatientNotFound)
    ));
    assert!(matches!(
        patients
            .update(&foreign, created.id, input("x@example.com"))
            .await,
        Err(AppError::PatientNotFound)
    ));
    assert!(matches!(
        patients.delete(&foreign, created.id).await,
        Err(AppError::PatientNotFound)
    ));
}

#[tokio::test]
async fn a_patient_reads_only_their_own_record() {
    let patients = service();
    let staff = caller(Role::Admin, 1);
    let own = patients
        .create(&staff, input("own@example.com"))
        .await
        .expect("own");
    let other = patients
        .create(&staff, input("other@example.com"))
        .await
        .expect("other");
    let me = Caller {
        role: Role::Patient,
        patient_id: Some(own.id),
        ..caller(Role::Patient, 1)
    };
    assert_eq!(patients.get(&me, own.id).await.expect("own").id, own.id);
    assert!(matches!(
        patients.get(&me, other.id).await,
        Err(AppError::PatientNotFound)
    ));
    let filter = PatientService::scoped_filter(&me, PatientFilter::default()).expect("filter");
    let page = patients
        .list(
            &me,
            &filter,
            PatientOrder::default(),
            ConnectionArgs::default(),
        )
        .await
        .expect("list");
    assert_eq!(
        page.items.iter().map(|p| p.id).collect::<Vec<_>>(),
        [own.id]
    );
    assert_eq!(patients.count(&me, &filter).await.expect("count"), 1);
}

#[tokio::test]
async fn roles_are_enforced_by_the_service() {
    let patients = service();
    let as_patient = Caller {
        patient_id: Some(1),
        ..caller(Role::Patient, 1)
    };
    assert!(matches!(
        patients.create(&as_patient, input("a@example.com")).await,
        Err(AppError::Forbidden(_))
    ));
    let created = patients
        .create(&caller(Role::Doctor, 1), input("a@example.com"))
        .await
        .expect("doctor creates");
    assert!(matches!(
        patients.delete(&caller(Role::Nurse, 1), created.id).await,
        Err(AppError::Forbidden(_))
    ));
    let mut with_notes = input("b@example.com");
    with_notes.internal_notes = Patch::Set("allergic to penicillin".into());
    assert!(matches!(
        patients
            .create(&caller(Role::Receptionist, 1), with_notes.clone())
            .await,
        Err(AppError::Forbidden(_))
    ));
    patients
        .create(&caller(Role::Nurse, 1), with_notes)
        .await
        .expect("nurse writes notes");
}

#[tokio::test]
async fn a_primary_doctor_must_belong_to_the_clinic_and_is_reported_with_other_problems() {
    let patients = service();
    let mut bad = input("not-an-email");
    bad.primary_doctor = Patch::Set(DoctorRef::Id(2));
    let Err(AppError::Validation(problems)) = patients.create(&caller(Role::Admin, 1), bad).await
    else {
        panic!("expected VALIDATION_FAILED");
    };
    let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["email", "primaryDoctorId"]);

    let mut good = input("ok@example.com");
    good.primary_doctor = Patch::Set(DoctorRef::Id(1));
    let created = patients
        .create(&caller(Role::Admin, 1), good)
        .await
        .expect("own clinic's doctor");
    assert_eq!(created.primary_doctor_id, Some(1));
}

#[tokio::test]
async fn partial_update_keeps_other_fields_and_delete_then_restore_round_trips() {
    let patients = service();
    let admin = caller(Role::Admin, 1);
    let created = patients
        .create(&admin, input("ann@example.com"))
        .await
        .expect("created");
    let patch = PatientInput {
        phone: Patch::Set("555 000 1111".into()),
        ..Default::default()
    };
    let updated = patients
        .update(&admin, created.id, patch)
        .await
        .expect("updated");
    assert_eq!(updated.phone.as_deref(), Some("5550001111"));
    assert_eq!(updated.name, created.name);

    assert!(patients.delete(&admin, created.id).await.expect("deleted"));
    assert!(matches!(
        patients.get(&admin, created.id).await,
        Err(AppError::PatientNotFound)
    ));
    assert!(matches!(
        patients.delete(&admin, created.id).await,
        Err(AppError::PatientNotFound)
    ));
    let restored = patients
        .restore(&admin, created.id)
        .await
        .expect("restored");
    assert_eq!(restored.id, created.id);
}

#[tokio::test]
async fn restoring_into_a_taken_email_is_a_duplicate() {
    let patients = service();
    let admin = caller(Role::Admin, 1);
    let first = patients
        .create(&admin, input("ann@example.com"))
        .await
        .expect("first");
    patients.delete(&admin, first.id).await.expect("deleted");
    patients
        .create(&admin, input("ann@example.com"))
        .await
        .expect("email free again after delete");
    assert!(matches!(
        patients.restore(&admin, first.id).await,
        Err(AppError::DuplicateEmail)
    ));
}

#[tokio::test]
async fn more_than_a_hundred_per_page_is_refused() {
    let patients = service();
    let admin = caller(Role::Admin, 1);
    let filter = PatientService::scoped_filter(&admin, PatientFilter::default()).expect("filter");
    let args = ConnectionArgs {
        first: Some(101),
        ..Default::default()
    };
    assert!(matches!(
        patients
            .list(&admin, &filter, PatientOrder::default(), args)
            .await,
        Err(AppError::Validation(_))
    ));
}
