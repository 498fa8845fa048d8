//! The patient service's rules against in-memory fakes: tenancy, roles, validation, duplicates.
use std::sync::Arc;

use chrono::NaiveDate;

use super::fakes::{FakeDoctors, FakePatients, NoUsers};
use super::model::{PatientFilter, PatientOrder};
use super::service::PatientService;
use super::validation::{DoctorRef, Patch, PatientInput};
use crate::core::auth::{Caller, Role};
use crate::core::error::AppError;
use crate::core::pagination::ConnectionArgs;
use crate::modules::doctor::DoctorService;

fn service() -> PatientService {
    let doctors = DoctorService::new(Arc::new(FakeDoctors), Arc::new(NoUsers));
    PatientService::new(
        Arc::new(FakePatients::default()),
        Arc::new(doctors),
        crate::core::sealing::test_keys(),
    )
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
    let filter = patients
        .filter(&me, PatientFilter::default())
        .await
        .expect("filter");
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
    let keys = crate::core::sealing::test_keys();
    assert_eq!(
        updated.phone(&keys).expect("opens").as_deref(),
        Some("5550001111")
    );
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
    let filter = patients
        .filter(&admin, PatientFilter::default())
        .await
        .expect("filter");
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
