//! Demo data for a first run, and bulk synthetic patients for benchmarks.
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use unicode_normalization::UnicodeNormalization;

use crate::app::{Repositories, Services};
use crate::core::auth::Role;
use crate::db;
use crate::modules::auth::service::NewAccount;
use crate::modules::clinic::model::NewClinic;
use crate::modules::doctor::model::NewDoctor;
use crate::modules::patient::model::{BloodGroup, PatientFields, PatientWrite};

pub const DEMO_CLINIC: &str = "Demo Clinic";
/// Public on purpose: it is printed at start-up and in the README. Never seeded in production.
pub const DEMO_PASSWORD: &str = "clinicgraph-demo";
pub const DEMO_PATIENTS: usize = 50;

/// The demo accounts, in the order they are printed.
pub const DEMO_ACCOUNTS: [(&str, &str, Role); 5] = [
    ("admin@demo.clinic", "Ada Admin", Role::Admin),
    ("doctor@demo.clinic", "Dr. Grace Hopper", Role::Doctor),
    ("nurse@demo.clinic", "Florence Nurse", Role::Nurse),
    (
        "reception@demo.clinic",
        "Rita Reception",
        Role::Receptionist,
    ),
    ("patient@demo.clinic", "Zoë Adams", Role::Patient),
];

const FIRST_NAMES: [&str; 10] = [
    "Zoë", "José", "Amelia", "Björn", "Chloé", "Dmitri", "Émile", "Fatima", "Kenji", "Noor",
];
const LAST_NAMES: [&str; 10] = [
    "Adams",
    "Müller",
    "García",
    "O'Brien",
    "Nakamura",
    "Okafor",
    "Kowalski",
    "Lindqvist",
    "Rossi",
    "Singh",
];
const SPECIALTIES: [&str; 3] = ["General Practice", "Cardiology", "Pediatrics"];

/// Whether the demo data went in now or was already there.
#[derive(Debug, PartialEq, Eq)]
pub enum DemoSeed {
    Created { clinic_id: i64 },
    AlreadyPresent,
}

/// Creates the demo clinic, 3 doctors, 50 patients and the five demo accounts. Idempotent: does
/// nothing when the demo admin already exists (it is created last).
pub async fn demo(repos: &Repositories, services: &Services) -> anyhow::Result<DemoSeed> {
    if repos
        .users
        .find_by_email(DEMO_ACCOUNTS[0].0)
        .await?
        .is_some()
    {
        return Ok(DemoSeed::AlreadyPresent);
    }
    let now = db::now();
    let clinic = match repos.clinics.find_by_name(DEMO_CLINIC).await? {
        Some(clinic) => clinic,
        None => {
            repos
                .clinics
                .insert(NewClinic {
                    name: DEMO_CLINIC.into(),
                    timezone: "Europe/London".into(),
                    address: Some("1 Example Street, London".into()),
                    phone: Some("5550100000".into()),
                    created_at: now,
                    updated_at: now,
                })
                .await?
        }
    };
    let account = |index: usize, patient_id: Option<i64>| {
        let (email, name, role) = DEMO_ACCOUNTS[index];
        NewAccount {
            clinic_id: clinic.id,
            email: email.into(),
            name: name.into(),
            role,
            password: DEMO_PASSWORD.into(),
            patient_id,
        }
    };
    let doctor_user = services
        .auth
        .create_account(account(1, None))
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo doctor: {e:?}"))?;
    let mut doctor_ids = Vec::new();
    for (index, specialty) in SPECIALTIES.iter().enumerate() {
        let doctor = repos
            .doctors
            .insert(NewDoctor {
                clinic_id: clinic.id,
                user_id: (index == 0).then_some(doctor_user.id),
                name: if index == 0 {
                    doctor_user.name.clone()
                } else {
                    format!("Dr. {} {}", FIRST_NAMES[index + 3], LAST_NAMES[index + 3])
                },
                specialty: (*specialty).into(),
                license_number: Some(format!("LIC-{:05}", 1001 + index)),
                email: (index == 0).then(|| doctor_user.email.clone()),
                created_at: now,
                updated_at: now,
            })
            .await?;
        doctor_ids.push(doctor.id);
    }
    let patients: Vec<PatientWrite> = (0..DEMO_PATIENTS)
        .map(|i| PatientWrite::new(&synthetic_patient(i, "demo", &doctor_ids), now))
        .collect();
    repos.patients.insert_many(clinic.id, patients).await?;
    let first_patient = first_patient_id(repos, clinic.id).await?;
    for index in [2, 3, 4, 0] {
        let patient_id = (DEMO_ACCOUNTS[index].2 == Role::Patient).then_some(first_patient);
        services
            .auth
            .create_account(account(index, patient_id))
            .await
            .map_err(|e| {
                anyhow::anyhow!("creating demo account {}: {e:?}", DEMO_ACCOUNTS[index].0)
            })?;
    }
    Ok(DemoSeed::Created {
        clinic_id: clinic.id,
    })
}

async fn first_patient_id(repos: &Repositories, clinic_id: i64) -> anyhow::Result<i64> {
    use crate::core::pagination::{Direction, PageRequest};
    use crate::modules::patient::model::{
        OrderDirection, PatientFilter, PatientOrder, PatientOrderField,
    };
    let page = PageRequest {
        limit: 1,
        direction: Direction::Forward,
        cursor: None,
    };
    let order = PatientOrder {
        field: PatientOrderField::CreatedAt,
        direction: OrderDirection::Asc,
    };
    let rows = repos
        .patients
        .list(clinic_id, &PatientFilter::default(), order, &page)
        .await?;
    rows.first()
        .map(|p| p.id)
        .ok_or_else(|| anyhow::anyhow!("the demo patients were not stored"))
}

/// Adds `count` synthetic patients to a clinic, in batches, with a progress bar.
pub async fn bulk_patients(
    repos: &Repositories,
    clinic_id: i64,
    count: usize,
) -> anyhow::Result<()> {
    const BATCH: usize = 500;
    let doctor_ids = repos.doctors.list_ids(clinic_id).await?;
    // A tag per run keeps emails unique when the command runs more than once.
    let tag = format!("bulk{}", chrono::Utc::now().timestamp());
    let progress = ProgressBar::new(count as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} patients ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut start = 0;
    while start < count {
        let end = (start + BATCH).min(count);
        let now = db::now();
        let batch = (start..end)
            .map(|i| PatientWrite::new(&synthetic_patient(i, &tag, &doctor_ids), now))
            .collect();
        repos.patients.insert_many(clinic_id, batch).await?;
        progress.inc((end - start) as u64);
        start = end;
    }
    progress.finish();
    Ok(())
}

/// A deterministic, plausible patient; `tag` keeps emails unique across runs.
fn synthetic_patient(i: usize, tag: &str, doctor_ids: &[i64]) -> PatientFields {
    let first = FIRST_NAMES[i % FIRST_NAMES.len()];
    let last = LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()];
    // "Zoë" -> "zoe" for the address: decompose, keep the ASCII letters.
    let ascii = |name: &str| -> String {
        name.nfd()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_lowercase()
    };
    let day = u32::try_from(i % 28).unwrap_or(0) + 1;
    let month = u32::try_from(i % 12).unwrap_or(0) + 1;
    let year = 1940 + i32::try_from(i % 80).unwrap_or(0);
    PatientFields {
        name: format!("{first} {last}"),
        email: format!("{}.{}.{tag}{i}@example.com", ascii(first), ascii(last)),
        phone: Some(format!("555{:07}", i % 10_000_000)),
        blood_group: Some(BloodGroup::ALL[i % BloodGroup::ALL.len()]),
        date_of_birth: NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default(),
        internal_notes: i
            .is_multiple_of(5)
            .then(|| format!("Follow-up needed (synthetic record {i}).")),
        primary_doctor_id: (!doctor_ids.is_empty()).then(|| doctor_ids[i % doctor_ids.len()]),
    }
}
