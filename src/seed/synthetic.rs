//! Deterministic, plausible synthetic records for demos and benchmarks.
use chrono::{Duration, NaiveDate, NaiveDateTime};
use unicode_normalization::UnicodeNormalization;

use crate::modules::appointment::model::{AppointmentStatus, NewAppointment};
use crate::modules::patient::model::{BloodGroup, PatientFields};
use crate::modules::prescription::model::{NewPrescription, PrescriptionStatus};

pub const FIRST_NAMES: [&str; 10] = [
    "Zoë", "José", "Amelia", "Björn", "Chloé", "Dmitri", "Émile", "Fatima", "Kenji", "Noor",
];
pub const LAST_NAMES: [&str; 10] = [
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
pub const APPOINTMENTS_PER_PATIENT: usize = 5;
pub const PRESCRIPTIONS_PER_PATIENT: usize = 3;
/// Every synthetic appointment gets its own slot this far apart, so none ever overlap.
pub const SLOT_MINUTES: i64 = 45;
const VISIT_MINUTES: i32 = 30;

const MEDICATIONS: [(&str, &str, &str); 8] = [
    ("Amoxicillin", "500 mg", "three times daily"),
    ("Lisinopril", "10 mg", "once daily"),
    ("Metformin", "850 mg", "twice daily"),
    ("Atorvastatin", "20 mg", "once daily"),
    ("Omeprazole", "20 mg", "once daily"),
    ("Levothyroxine", "50 mcg", "once daily"),
    ("Amlodipine", "5 mg", "once daily"),
    ("Sertraline", "50 mg", "once daily"),
];

/// Patient number `i`; `tag` keeps emails unique across runs.
pub fn patient(i: usize, tag: &str, doctor_ids: &[i64]) -> PatientFields {
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
        // The date of birth is optional: every seventh record goes without one.
        date_of_birth: (i % 7 != 6)
            .then(|| NaiveDate::from_ymd_opt(year, month, day))
            .flatten(),
        internal_notes: i
            .is_multiple_of(5)
            .then(|| format!("Follow-up needed (synthetic record {i}).")),
        primary_doctor_id: (!doctor_ids.is_empty()).then(|| doctor_ids[i % doctor_ids.len()]),
    }
}

/// The visits of one patient. `slot` numbers are globally unique, so no two synthetic
/// appointments share a time; those before `now` are history, the rest upcoming.
pub fn appointments(
    clinic_id: i64,
    patient_id: i64,
    first_slot: i64,
    base: NaiveDateTime,
    now: NaiveDateTime,
    doctor_ids: &[i64],
) -> Vec<NewAppointment> {
    (0..APPOINTMENTS_PER_PATIENT)
        .filter(|_| !doctor_ids.is_empty())
        .map(|j| {
            let slot = first_slot + j as i64;
            let start = base + Duration::minutes(slot * SLOT_MINUTES);
            let past = start < now;
            let status = match (past, slot % 5) {
                (true, 2) => AppointmentStatus::Cancelled,
                (true, 3) => AppointmentStatus::NoShow,
                (true, _) => AppointmentStatus::Completed,
                (false, 0 | 2 | 4) => AppointmentStatus::Scheduled,
                (false, _) => AppointmentStatus::Confirmed,
            };
            NewAppointment {
                clinic_id,
                patient_id,
                doctor_id: doctor_ids[(slot as usize) % doctor_ids.len()],
                scheduled_at: start,
                ends_at: start + Duration::minutes(i64::from(VISIT_MINUTES)),
                duration_minutes: VISIT_MINUTES,
                status: status.as_str().to_owned(),
                reason: Some(
                    [
                        "Check-up",
                        "Follow-up",
                        "Consultation",
                        "Vaccination",
                        "Lab results",
                    ][j]
                        .to_owned(),
                ),
                notes: None,
                cancellation_reason: (status == AppointmentStatus::Cancelled)
                    .then(|| "Patient asked to cancel".to_owned()),
                created_at: now,
                updated_at: now,
            }
        })
        .collect()
}

/// The prescriptions of one patient; the first is tied to `visit`, an appointment of theirs.
pub fn prescriptions(
    clinic_id: i64,
    patient_id: i64,
    i: usize,
    visit: Option<(i64, i64)>,
    now: NaiveDateTime,
    doctor_ids: &[i64],
) -> Vec<NewPrescription> {
    (0..PRESCRIPTIONS_PER_PATIENT)
        .filter(|_| !doctor_ids.is_empty())
        .map(|j| {
            let (medication, dosage, frequency) = MEDICATIONS[(i + j) % MEDICATIONS.len()];
            let status = match (i + j) % 6 {
                4 => PrescriptionStatus::Discontinued,
                5 => PrescriptionStatus::Completed,
                _ => PrescriptionStatus::Active,
            };
            let start = now.date() - Duration::days(30 * (j as i64 + 1));
            // The visit's own doctor writes the prescription tied to it.
            let (appointment_id, prescriber_id) = match visit {
                Some((appointment_id, doctor_id)) if j == 0 => (Some(appointment_id), doctor_id),
                _ => (None, doctor_ids[(i + j) % doctor_ids.len()]),
            };
            NewPrescription {
                clinic_id,
                patient_id,
                prescriber_id,
                appointment_id,
                medication: medication.to_owned(),
                dosage: dosage.to_owned(),
                frequency: frequency.to_owned(),
                route: "oral".to_owned(),
                start_date: start,
                end_date: Some(start + Duration::days(90)),
                refills: i32::try_from((i + j) % 4).unwrap_or(0),
                status: status.as_str().to_owned(),
                discontinued_reason: (status == PrescriptionStatus::Discontinued)
                    .then(|| "Side effects".to_owned()),
                // Distinct times keep "newest first" stable and meaningful.
                created_at: now - Duration::minutes(j as i64),
                updated_at: now,
            }
        })
        .collect()
}
