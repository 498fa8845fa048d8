//! Demo data for a first run, and bulk synthetic patients for benchmarks.
mod synthetic;

use std::collections::HashMap;

use chrono::{Duration, DurationRound, NaiveDateTime};
use indicatif::{ProgressBar, ProgressStyle};

use crate::core::auth::Role;
use crate::db;
use crate::modules::appointment::model::AppointmentStatus;
use crate::modules::auth::service::NewAccount;
use crate::modules::clinic::model::NewClinic;
use crate::modules::doctor::model::NewDoctor;
use crate::modules::patient::model::PatientWrite;
use crate::modules::registry::Services;
use synthetic::{APPOINTMENTS_PER_PATIENT, FIRST_NAMES, LAST_NAMES, SLOT_MINUTES};

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

const SPECIALTIES: [&str; 3] = ["General Practice", "Cardiology", "Pediatrics"];

/// Whether the demo data went in now or was already there.
#[derive(Debug, PartialEq, Eq)]
pub enum DemoSeed {
    Created { clinic_id: i64 },
    AlreadyPresent,
}

/// Creates the demo clinic, 3 doctors, 50 patients with their appointments and prescriptions,
/// and the five demo accounts. Idempotent: does nothing when the demo admin already exists (it
/// is created last).
pub async fn demo(services: &Services) -> anyhow::Result<DemoSeed> {
    if services.auth.account_exists(DEMO_ACCOUNTS[0].0).await? {
        return Ok(DemoSeed::AlreadyPresent);
    }
    let now = db::now();
    let clinic = match services.clinics.find_by_name(DEMO_CLINIC).await? {
        Some(clinic) => clinic,
        None => {
            services
                .clinics
                .create(NewClinic {
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
        let name = if index == 0 {
            doctor_user.name.clone()
        } else {
            format!("Dr. {} {}", FIRST_NAMES[index + 3], LAST_NAMES[index + 3])
        };
        let email = (index == 0).then(|| doctor_user.email.clone());
        let doctor = services
            .doctors
            .insert_seeded(NewDoctor {
                clinic_id: clinic.id,
                user_id: (index == 0).then_some(doctor_user.id),
                name: name.clone(),
                specialty: (*specialty).into(),
                license_number: Some(format!("LIC-{:05}", 1001 + index)),
                email: email.clone(),
                created_at: now,
                updated_at: now,
                search_text: crate::modules::doctor::model::doctor_search_text(
                    &name,
                    email.as_deref(),
                    specialty,
                ),
            })
            .await?;
        doctor_ids.push(doctor.id);
    }
    let patients: Vec<PatientWrite> = (0..DEMO_PATIENTS)
        .map(|i| PatientWrite::new(&synthetic::patient(i, "demo", &doctor_ids), now))
        .collect();
    let patient_ids = services.patients.insert_seeded(clinic.id, patients).await?;
    let first_patient = *patient_ids
        .first()
        .ok_or_else(|| anyhow::anyhow!("the demo patients were not stored"))?;
    // Half the visits lie in the past, half ahead.
    let span = Duration::minutes(SLOT_MINUTES * (DEMO_PATIENTS * APPOINTMENTS_PER_PATIENT) as i64);
    let base = whole_hour(now) - span / 2;
    let numbered: Vec<(i64, usize)> = patient_ids.into_iter().zip(0..).collect();
    add_history(services, clinic.id, &numbered, &doctor_ids, 0, base).await?;
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

fn whole_hour(at: NaiveDateTime) -> NaiveDateTime {
    at.duration_trunc(Duration::hours(1)).unwrap_or(at)
}

/// About five appointments and three prescriptions for each `(patient id, index)`; slots are
/// numbered from `first_slot` after `base`, one per appointment, so none overlap.
async fn add_history(
    services: &Services,
    clinic_id: i64,
    patients: &[(i64, usize)],
    doctor_ids: &[i64],
    first_slot: i64,
    base: NaiveDateTime,
) -> anyhow::Result<()> {
    let now = db::now();
    let visits: Vec<_> = patients
        .iter()
        .enumerate()
        .flat_map(|(n, (patient_id, _))| {
            let slot = first_slot + (n * APPOINTMENTS_PER_PATIENT) as i64;
            synthetic::appointments(clinic_id, *patient_id, slot, base, now, doctor_ids)
        })
        .collect();
    let ids = services.appointments.insert_seeded(visits.clone()).await?;
    let mut first_completed: HashMap<i64, (i64, i64)> = HashMap::new();
    for (visit, id) in visits.iter().zip(ids) {
        if visit.status == AppointmentStatus::Completed.as_str() {
            first_completed
                .entry(visit.patient_id)
                .or_insert((id, visit.doctor_id));
        }
    }
    let prescriptions = patients
        .iter()
        .flat_map(|(patient_id, i)| {
            let visit = first_completed.get(patient_id).copied();
            synthetic::prescriptions(clinic_id, *patient_id, *i, visit, now, doctor_ids)
        })
        .collect();
    services.prescriptions.insert_seeded(prescriptions).await?;
    Ok(())
}

/// Adds `count` synthetic patients, with their appointments and prescriptions, to a clinic, in
/// batches, with a progress bar.
pub async fn bulk_patients(
    services: &Services,
    clinic_id: i64,
    count: usize,
) -> anyhow::Result<()> {
    const BATCH: usize = 500;
    let doctor_ids = services.doctors.ids_in_clinic(clinic_id).await?;
    // A tag per run keeps emails unique when the command runs more than once.
    let tag = format!("bulk{}", chrono::Utc::now().timestamp());
    // After every appointment the clinic already has, so the new ones never overlap them.
    let base = match services.appointments.latest_end(clinic_id).await? {
        Some(end) => whole_hour(end) + Duration::hours(1),
        None => {
            let span = Duration::minutes(SLOT_MINUTES * (count * APPOINTMENTS_PER_PATIENT) as i64);
            whole_hour(db::now()) - span / 2
        }
    };
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
            .map(|i| PatientWrite::new(&synthetic::patient(i, &tag, &doctor_ids), now))
            .collect();
        let ids = services.patients.insert_seeded(clinic_id, batch).await?;
        let numbered: Vec<(i64, usize)> = ids.into_iter().zip(start..).collect();
        let first_slot = (start * APPOINTMENTS_PER_PATIENT) as i64;
        add_history(
            services,
            clinic_id,
            &numbered,
            &doctor_ids,
            first_slot,
            base,
        )
        .await?;
        progress.inc((end - start) as u64);
        start = end;
    }
    progress.finish();
    Ok(())
}
