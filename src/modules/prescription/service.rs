//! The rules of prescriptions: who reads them, who writes them, and their fields.
use std::sync::Arc;

use chrono::NaiveDate;

use super::lists::Prescriptions;
use super::model::{NewPrescription, Prescription, PrescriptionFilter, PrescriptionStatus};
use super::repository::PrescriptionRepository;
use crate::core::auth::{Caller, Role};
use crate::core::error::{AppError, AppResult, FieldViolation};
use crate::core::pagination::{ConnectionArgs, Page};
use crate::core::scope::Scope;
use crate::core::text::required_text;
use crate::db;
use crate::modules::appointment::AppointmentService;
use crate::modules::doctor::{Doctor, DoctorService};
use crate::modules::nested::{NestedReads, NestedRepository};
use crate::modules::patient::PatientService;

/// May read prescriptions (a PATIENT only their own); a RECEPTIONIST may not.
pub const READERS: &[Role] = &[Role::Admin, Role::Doctor, Role::Nurse, Role::Patient];
pub const MAX_REFILLS: i32 = 12;

/// A prescription as a doctor writes it; ids are `None` when malformed.
#[derive(Debug, Clone)]
pub struct PrescribeRequest {
    pub patient_id: Option<i64>,
    pub appointment_id: Option<Option<i64>>,
    pub medication: String,
    pub dosage: String,
    pub frequency: String,
    pub route: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub refills: i32,
}

pub struct PrescriptionService {
    prescriptions: Arc<dyn PrescriptionRepository>,
    lists: Arc<NestedRepository<Prescriptions>>,
    /// The services of the records a prescription names, which say whether they may be named.
    patients: Arc<PatientService>,
    appointments: Arc<AppointmentService>,
    doctors: Arc<DoctorService>,
}

impl PrescriptionService {
    pub fn new(
        prescriptions: Arc<dyn PrescriptionRepository>,
        lists: Arc<NestedRepository<Prescriptions>>,
        patients: Arc<PatientService>,
        appointments: Arc<AppointmentService>,
        doctors: Arc<DoctorService>,
    ) -> Self {
        Self {
            prescriptions,
            lists,
            patients,
            appointments,
            doctors,
        }
    }

    fn require_reader(caller: &Caller) -> AppResult<()> {
        if caller.has_any_role(READERS) {
            Ok(())
        } else {
            Err(AppError::forbidden("your role may not read prescriptions"))
        }
    }

    pub async fn get(&self, caller: &Caller, id: i64) -> AppResult<Prescription> {
        Self::require_reader(caller)?;
        self.prescriptions
            .find(&Scope::of(caller), id)
            .await?
            .ok_or(AppError::NotFound("prescription"))
    }

    pub async fn list(
        &self,
        caller: &Caller,
        filter: &PrescriptionFilter,
        args: ConnectionArgs,
    ) -> AppResult<Page<Prescription>> {
        Self::require_reader(caller)?;
        let request = args.parse_timed()?;
        let rows = self
            .prescriptions
            .list(&Scope::of(caller), filter, &request)
            .await?;
        Ok(Page::from_rows(rows, &request))
    }

    pub async fn count(&self, caller: &Caller, filter: &PrescriptionFilter) -> AppResult<i64> {
        Self::require_reader(caller)?;
        Ok(self.prescriptions.count(&Scope::of(caller), filter).await?)
    }

    /// The caller's doctor profile: only a DOCTOR with one writes prescriptions.
    async fn own_profile(&self, caller: &Caller) -> AppResult<Doctor> {
        if caller.role != Role::Doctor {
            return Err(AppError::forbidden("only a doctor may prescribe"));
        }
        self.doctors
            .own_profile(caller)
            .await?
            .ok_or_else(|| AppError::forbidden("your account has no doctor profile"))
    }

    pub async fn prescribe(
        &self,
        caller: &Caller,
        request: PrescribeRequest,
    ) -> AppResult<Prescription> {
        let prescriber = self.own_profile(caller).await?;
        let mut problems = Vec::new();
        let mut text = |field: &str, value: &str, max: usize| {
            required_text(value, max).unwrap_or_else(|message| {
                problems.push(FieldViolation::new(field, message));
                String::new()
            })
        };
        let medication = text("medication", &request.medication, 200);
        let dosage = text("dosage", &request.dosage, 100);
        let frequency = text("frequency", &request.frequency, 100);
        let route = text("route", &request.route, 50);
        if !(0..=MAX_REFILLS).contains(&request.refills) {
            problems.push(FieldViolation::new("refills", "must be between 0 and 12"));
        }
        if request.end_date.is_some_and(|end| end < request.start_date) {
            problems.push(FieldViolation::new(
                "endDate",
                "must not be before startDate",
            ));
        }
        let patient_id = match request.patient_id {
            Some(id) if !self.patients.find_many(caller, &[id]).await?.is_empty() => Some(id),
            _ => {
                problems.push(FieldViolation::new(
                    "patientId",
                    "is not a patient of this clinic",
                ));
                None
            }
        };
        let appointment_id = match request.appointment_id {
            None => None,
            Some(None) => {
                problems.push(FieldViolation::new(
                    "appointmentId",
                    "is not an appointment id",
                ));
                None
            }
            Some(Some(id)) => match self.appointments.find_many(caller, &[id]).await?.pop() {
                Some(a) if Some(a.patient_id) == patient_id => Some(id),
                _ => {
                    problems.push(FieldViolation::new(
                        "appointmentId",
                        "is not an appointment of this patient",
                    ));
                    None
                }
            },
        };
        let Some(patient_id) = patient_id.filter(|_| problems.is_empty()) else {
            return Err(AppError::Validation(problems));
        };
        let now = db::now();
        Ok(self
            .prescriptions
            .insert(NewPrescription {
                clinic_id: caller.clinic_id,
                patient_id,
                prescriber_id: prescriber.id,
                appointment_id,
                medication,
                dosage,
                frequency,
                route,
                start_date: request.start_date,
                end_date: request.end_date,
                refills: request.refills,
                status: PrescriptionStatus::Active.as_str().to_owned(),
                discontinued_reason: None,
                created_at: now,
                updated_at: now,
            })
            .await?)
    }

    /// Stops an ACTIVE prescription; only its prescriber may.
    pub async fn discontinue(
        &self,
        caller: &Caller,
        id: i64,
        reason: &str,
    ) -> AppResult<Prescription> {
        let prescriber = self.own_profile(caller).await?;
        let reason =
            required_text(reason, 500).map_err(|message| AppError::invalid("reason", message))?;
        let current = self.get(caller, id).await?;
        if current.prescriber_id != prescriber.id {
            return Err(AppError::forbidden(
                "only the prescriber may discontinue a prescription",
            ));
        }
        match self
            .prescriptions
            .discontinue(caller.clinic_id, id, reason, db::now())
            .await?
        {
            Some(prescription) => Ok(prescription),
            None => {
                let now = self.get(caller, id).await?;
                Err(AppError::InvalidStateTransition {
                    entity: "a prescription",
                    action: "discontinue",
                    current: now.status().as_str(),
                })
            }
        }
    }

    /// Stores `rows` as given, without a caller or checks: seeding only; how many went in.
    pub async fn insert_seeded(&self, rows: Vec<NewPrescription>) -> AppResult<usize> {
        Ok(self.prescriptions.insert_many(rows).await?)
    }
}

/// Nested lists of prescriptions: the rule of every prescription read — readers only, the
/// caller's clinic, and for a PATIENT their own.
impl NestedReads<Prescriptions> for PrescriptionService {
    fn readable(&self, caller: &Caller) -> AppResult<Scope> {
        Self::require_reader(caller)?;
        Ok(Scope::of(caller))
    }

    fn lists(&self) -> &NestedRepository<Prescriptions> {
        &self.lists
    }
}
