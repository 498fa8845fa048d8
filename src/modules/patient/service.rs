//! The rules of patient records: tenancy, roles per record, validation, duplicates.
use std::sync::Arc;

use chrono::{NaiveDate, Utc};

use super::model::{
    Patient, PatientCursor, PatientFields, PatientFilter, PatientOrder, PatientWrite,
    parse_patient_number,
};
use super::policy;
use super::repository::PatientRepository;
use super::validation::{DoctorRef, Patch, PatientInput, normalize_phone, validate};
use crate::core::auth::{Caller, Role};
use crate::core::error::{AppError, AppResult, FieldViolation};
use crate::core::pagination::{ConnectionArgs, Page, PageRequest};
use crate::core::scope::Scope;
use crate::core::sealing::DataKeys;
use crate::core::sealing::fields::PATIENT_PHONE;
use crate::core::text::fold;
use crate::db::{self, DbError};
use crate::modules::doctor::DoctorService;

const MAX_SEARCH_CHARS: usize = 200;
/// Optimistic-update attempts before giving up on a record under constant concurrent change.
const UPDATE_ATTEMPTS: usize = 3;

pub struct PatientService {
    patients: Arc<dyn PatientRepository>,
    /// Says whether a primary doctor may be named.
    doctors: Arc<DoctorService>,
    /// Opens a record's sealed fields for an update, and finds phones by blind index.
    keys: Arc<DataKeys>,
}

impl PatientService {
    pub fn new(
        patients: Arc<dyn PatientRepository>,
        doctors: Arc<DoctorService>,
        keys: Arc<DataKeys>,
    ) -> Self {
        Self {
            patients,
            doctors,
            keys,
        }
    }

    /// A live patient of the caller's clinic that the caller may read. Anything else, including
    /// another clinic's record or (for a PATIENT) someone else's, is PATIENT_NOT_FOUND.
    pub async fn get(&self, caller: &Caller, id: i64) -> AppResult<Patient> {
        if caller.role == Role::Patient && caller.patient_id != Some(id) {
            return Err(AppError::PatientNotFound);
        }
        self.patients
            .find(caller.clinic_id, id)
            .await?
            .ok_or(AppError::PatientNotFound)
    }

    /// A clinic's patient, for a job acting for the clinic (an appointment's email).
    pub async fn find_in_clinic(&self, clinic_id: i64, id: i64) -> AppResult<Option<Patient>> {
        Ok(self.patients.find(clinic_id, id).await?)
    }

    /// How many of a clinic's patients match `filter`: for an export job, whose filter was
    /// checked when an ADMIN requested it (`JobService::export_patients`).
    pub async fn export_count(&self, clinic_id: i64, filter: &PatientFilter) -> AppResult<i64> {
        Ok(self.patients.count(clinic_id, filter).await?)
    }

    /// A page of a clinic's patients matching `filter`, for an export job (as
    /// [`Self::export_count`]).
    pub async fn export_page(
        &self,
        clinic_id: i64,
        filter: &PatientFilter,
        order: PatientOrder,
        page: &PageRequest<PatientCursor>,
    ) -> AppResult<Vec<Patient>> {
        Ok(self.patients.list(clinic_id, filter, order, page).await?)
    }

    /// The patients among `ids` the caller may read, in one statement (nested reads).
    pub async fn find_many(&self, caller: &Caller, ids: &[i64]) -> AppResult<Vec<Patient>> {
        Ok(self.patients.find_many(&Scope::of(caller), ids).await?)
    }

    /// The first `per_doctor` patients (by name) the caller may read of each of `doctor_ids`
    /// as primary doctor, in one statement.
    pub async fn per_doctor(
        &self,
        caller: &Caller,
        doctor_ids: &[i64],
        per_doctor: usize,
    ) -> AppResult<Vec<Patient>> {
        let scope = Scope::of(caller);
        Ok(self
            .patients
            .list_per_doctor(&scope, doctor_ids, per_doctor)
            .await?)
    }

    /// `(doctor id, count)` of the patients the caller may read, for each of `doctor_ids`
    /// that has any.
    pub async fn count_per_doctor(
        &self,
        caller: &Caller,
        doctor_ids: &[i64],
    ) -> AppResult<Vec<(i64, i64)>> {
        let scope = Scope::of(caller);
        Ok(self.patients.count_per_doctor(&scope, doctor_ids).await?)
    }

    /// Looks a patient up by the human-readable id (`PAT-000042`).
    pub async fn get_by_number(&self, caller: &Caller, number: &str) -> AppResult<Patient> {
        let id = parse_patient_number(number.trim()).ok_or(AppError::PatientNotFound)?;
        self.get(caller, id).await
    }

    pub fn may_read_internal_notes(caller: &Caller) -> bool {
        caller.has_any_role(policy::NOTE_READERS)
    }

    /// Checks and normalises a client's filter, and scopes a PATIENT to their own record: the
    /// one check of every filter of patients (the `patients` list and `exportPatients`).
    /// Filtering by another clinic's (or no) doctor is a mistake to report, not an empty list.
    pub async fn filter(
        &self,
        caller: &Caller,
        mut filter: PatientFilter,
    ) -> AppResult<PatientFilter> {
        filter.search = match filter.search.map(|s| fold(s.trim())) {
            Some(s) if s.chars().count() > MAX_SEARCH_CHARS => {
                return Err(AppError::invalid(
                    "filter.search",
                    "must be at most 200 characters",
                ));
            }
            Some(s) if !s.is_empty() => Some(s),
            _ => None,
        };
        // A phone is sealed: a search that is a phone number finds it exactly, by its blind
        // index under every key of the ring (a rotation may be under way).
        filter.phone_indexes = match filter.search.as_deref().and_then(normalize_phone) {
            Some(digits) => self
                .keys
                .blind_indexes(PATIENT_PHONE, caller.clinic_id, &digits),
            None => Vec::new(),
        };
        if let Some(doctor_id) = filter.primary_doctor_id
            && self
                .doctors
                .find_in_clinic(caller.clinic_id, doctor_id)
                .await?
                .is_none()
        {
            return Err(AppError::invalid(
                "filter.primaryDoctorId",
                "is not a doctor of this clinic",
            ));
        }
        filter.only_id = match caller.role {
            Role::Patient => Some(caller.patient_id.unwrap_or(0)),
            _ => None,
        };
        Ok(filter)
    }

    /// One page of the caller's clinic's patients. `filter` must come from [`Self::filter`].
    pub async fn list(
        &self,
        caller: &Caller,
        filter: &PatientFilter,
        order: PatientOrder,
        args: ConnectionArgs,
    ) -> AppResult<Page<Patient>> {
        let cursor_field = if args.before.is_some() {
            "before"
        } else {
            "after"
        };
        let request = args.parse::<PatientCursor>()?;
        if request.cursor.as_ref().is_some_and(|c| !c.matches(order)) {
            return Err(AppError::invalid(
                cursor_field,
                "is not a cursor of this list and order",
            ));
        }
        let rows = self
            .patients
            .list(caller.clinic_id, filter, order, &request)
            .await?;
        Ok(Page::from_rows(rows, &request))
    }

    /// How many patients match `filter` (from [`Self::filter`]).
    pub async fn count(&self, caller: &Caller, filter: &PatientFilter) -> AppResult<i64> {
        Ok(self.patients.count(caller.clinic_id, filter).await?)
    }

    pub async fn create(&self, caller: &Caller, input: PatientInput) -> AppResult<Patient> {
        Self::authorize_write(caller, &input)?;
        let fields = self.checked_fields(caller, None, input).await?;
        let write = PatientWrite::new(&fields, db::now());
        self.patients
            .insert(caller.clinic_id, write)
            .await
            .map_err(write_error)
    }

    /// Applies a partial update; fields not sent keep their values.
    pub async fn update(
        &self,
        caller: &Caller,
        id: i64,
        input: PatientInput,
    ) -> AppResult<Patient> {
        Self::authorize_write(caller, &input)?;
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.get(caller, id).await?;
            let fields = self
                .checked_fields(
                    caller,
                    Some(&PatientFields::of(&current, &self.keys)?),
                    input.clone(),
                )
                .await?;
            let write = PatientWrite::new(&fields, db::now());
            let updated = self
                .patients
                .update(caller.clinic_id, id, current.updated_at, write)
                .await
                .map_err(write_error)?;
            if let Some(patient) = updated {
                return Ok(patient);
            }
            // Changed or deleted since we read it: read again and re-apply the patch.
        }
        Err(AppError::internal(anyhow::anyhow!(
            "patient {id} kept changing during {UPDATE_ATTEMPTS} update attempts"
        )))
    }

    /// Soft-deletes a patient (ADMIN).
    pub async fn delete(&self, caller: &Caller, id: i64) -> AppResult<bool> {
        Self::require(
            caller,
            policy::ARCHIVERS,
            "only an ADMIN may delete patients",
        )?;
        if self
            .patients
            .soft_delete(caller.clinic_id, id, db::now())
            .await?
        {
            Ok(true)
        } else {
            Err(AppError::PatientNotFound)
        }
    }

    /// Brings a soft-deleted patient back (ADMIN); restoring a live patient returns it as is.
    pub async fn restore(&self, caller: &Caller, id: i64) -> AppResult<Patient> {
        Self::require(
            caller,
            policy::ARCHIVERS,
            "only an ADMIN may restore patients",
        )?;
        match self
            .patients
            .restore(caller.clinic_id, id, db::now())
            .await
            .map_err(write_error)?
        {
            Some(patient) => Ok(patient),
            None => self.get(caller, id).await,
        }
    }

    fn authorize_write(caller: &Caller, input: &PatientInput) -> AppResult<()> {
        Self::require(caller, policy::WRITERS, "your role may not change patients")?;
        if input.touches_internal_notes() && !Self::may_read_internal_notes(caller) {
            return Err(AppError::forbidden("your role may not write internalNotes"));
        }
        Ok(())
    }

    fn require(caller: &Caller, roles: &[Role], reason: &str) -> AppResult<()> {
        if caller.has_any_role(roles) {
            Ok(())
        } else {
            Err(AppError::forbidden(reason))
        }
    }

    /// Validates the input and that its primary doctor is of the caller's clinic, reporting all
    /// problems together.
    async fn checked_fields(
        &self,
        caller: &Caller,
        current: Option<&PatientFields>,
        input: PatientInput,
    ) -> AppResult<PatientFields> {
        // Only a newly chosen doctor needs checking (the database holds the same rule). It is
        // checked even when other fields are invalid, so the answer lists every problem.
        let chosen_doctor = match input.primary_doctor {
            Patch::Set(DoctorRef::Id(id))
                if current.and_then(|c| c.primary_doctor_id) != Some(id) =>
            {
                Some(id)
            }
            _ => None,
        };
        let (fields, mut problems) = match validate(current, input, today()) {
            Ok(fields) => (Some(fields), Vec::new()),
            Err(problems) => (None, problems),
        };
        if let Some(doctor_id) = chosen_doctor
            && self
                .doctors
                .find_in_clinic(caller.clinic_id, doctor_id)
                .await?
                .is_none()
        {
            problems.push(FieldViolation::new(
                "primaryDoctorId",
                "is not a doctor of this clinic",
            ));
        }
        match fields {
            Some(fields) if problems.is_empty() => Ok(fields),
            _ => Err(AppError::Validation(problems)),
        }
    }

    /// Stores `writes` in one transaction, unvalidated and without a caller: seeding only
    /// (demo and bulk synthetic patients); the new ids in input order.
    pub async fn insert_seeded(
        &self,
        clinic_id: i64,
        writes: Vec<PatientWrite>,
    ) -> AppResult<Vec<i64>> {
        Ok(self.patients.insert_many(clinic_id, writes).await?)
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn write_error(error: DbError) -> AppError {
    if error.is_unique_violation_of("email") {
        AppError::DuplicateEmail
    } else {
        error.into()
    }
}
