//! Doctor profiles: every user of the clinic reads them; ADMINs manage them.
use std::sync::Arc;

use super::model::{Doctor, DoctorFilter, DoctorWrite, NewDoctor, doctor_search_text};
use super::repository::DoctorRepository;
use crate::core::auth::{Caller, Role};
use crate::core::error::{AppError, AppResult, FieldViolation};
use crate::core::pagination::{ConnectionArgs, KeyCursor, Page};
use crate::core::patch::Patch;
use crate::core::text::{fold, normalize_email, optional_text, required_text};
use crate::db;
use crate::modules::auth::UserRepository;

/// A create or a partial update of a doctor profile, as sent.
#[derive(Debug, Clone, Default)]
pub struct DoctorInput {
    pub name: Patch<String>,
    pub specialty: Patch<String>,
    pub license_number: Patch<String>,
    pub email: Patch<String>,
    /// The DOCTOR account of this profile; `Set(None)` for an id that is not a user id.
    pub user_id: Patch<Option<i64>>,
}

pub struct DoctorService {
    doctors: Arc<dyn DoctorRepository>,
    users: Arc<dyn UserRepository>,
}

impl DoctorService {
    pub fn new(doctors: Arc<dyn DoctorRepository>, users: Arc<dyn UserRepository>) -> Self {
        Self { doctors, users }
    }

    pub async fn get(&self, caller: &Caller, id: i64) -> AppResult<Doctor> {
        self.find_in_clinic(caller.clinic_id, id)
            .await?
            .ok_or(AppError::NotFound("doctor"))
    }

    /// The caller's own doctor profile, if their account has one.
    pub async fn own_profile(&self, caller: &Caller) -> AppResult<Option<Doctor>> {
        Ok(self
            .doctors
            .find_by_user(caller.clinic_id, caller.user_id)
            .await?)
    }

    /// A clinic's doctor, for a job acting for the clinic.
    pub async fn find_in_clinic(&self, clinic_id: i64, id: i64) -> AppResult<Option<Doctor>> {
        Ok(self.doctors.find_many(clinic_id, &[id]).await?.pop())
    }

    /// The doctors of the caller's clinic among `ids`, in one statement.
    pub async fn find_many(&self, caller: &Caller, ids: &[i64]) -> AppResult<Vec<Doctor>> {
        Ok(self.doctors.find_many(caller.clinic_id, ids).await?)
    }

    pub fn scoped_filter(mut filter: DoctorFilter) -> DoctorFilter {
        filter.search = filter
            .search
            .map(|s| fold(s.trim()))
            .filter(|s| !s.is_empty());
        filter
    }

    pub async fn list(
        &self,
        caller: &Caller,
        filter: &DoctorFilter,
        args: ConnectionArgs,
    ) -> AppResult<Page<Doctor>> {
        let request = args.parse::<KeyCursor>()?;
        let rows = self
            .doctors
            .list(caller.clinic_id, filter, &request)
            .await?;
        Ok(Page::from_rows(rows, &request))
    }

    pub async fn count(&self, caller: &Caller, filter: &DoctorFilter) -> AppResult<i64> {
        Ok(self.doctors.count(caller.clinic_id, filter).await?)
    }

    pub async fn create(&self, caller: &Caller, input: DoctorInput) -> AppResult<Doctor> {
        require_admin(caller)?;
        let write = self.checked(caller, None, input).await?;
        let now = write.updated_at;
        self.doctors
            .insert(NewDoctor {
                clinic_id: caller.clinic_id,
                user_id: write.user_id,
                name: write.name,
                specialty: write.specialty,
                license_number: write.license_number,
                email: write.email,
                created_at: now,
                updated_at: now,
                search_text: write.search_text,
            })
            .await
            .map_err(linked_twice)
    }

    pub async fn update(&self, caller: &Caller, id: i64, input: DoctorInput) -> AppResult<Doctor> {
        require_admin(caller)?;
        let current = self.get(caller, id).await?;
        let write = self.checked(caller, Some(&current), input).await?;
        self.doctors
            .update(caller.clinic_id, id, write)
            .await
            .map_err(linked_twice)?
            .ok_or(AppError::NotFound("doctor"))
    }

    /// Applies `input` to `current` and checks every field, reporting all problems together.
    async fn checked(
        &self,
        caller: &Caller,
        current: Option<&Doctor>,
        input: DoctorInput,
    ) -> AppResult<DoctorWrite> {
        let mut problems = Vec::new();
        let mut required = |field: &str, patch: Patch<String>, current: Option<String>, max| {
            match patch.apply(current) {
                Some(value) => required_text(&value, max),
                None => Err("is required".to_owned()),
            }
            .unwrap_or_else(|message| {
                problems.push(FieldViolation::new(field, message));
                String::new()
            })
        };
        let name = required("name", input.name, current.map(|c| c.name.clone()), 200);
        let specialty = required(
            "specialty",
            input.specialty,
            current.map(|c| c.specialty.clone()),
            100,
        );
        let license_number = optional_text(
            input
                .license_number
                .apply(current.and_then(|c| c.license_number.clone())),
            50,
        )
        .unwrap_or_else(|message| {
            problems.push(FieldViolation::new("licenseNumber", message));
            None
        });
        let email = match input.email.apply(current.and_then(|c| c.email.clone())) {
            None => None,
            Some(raw) => normalize_email(&raw).map(Some).unwrap_or_else(|message| {
                problems.push(FieldViolation::new("email", message));
                None
            }),
        };
        let user_id = match input.user_id {
            Patch::Set(None) => {
                problems.push(FieldViolation::new("userId", "is not a user id"));
                None
            }
            patch => patch.apply(current.map(|c| c.user_id)).flatten(),
        };
        if let Some(user_id) = user_id {
            let is_doctor = self
                .users
                .find(caller.clinic_id, user_id)
                .await?
                .is_some_and(|user| user.role == Role::Doctor.as_str());
            if !is_doctor {
                problems.push(FieldViolation::new(
                    "userId",
                    "is not a DOCTOR account of this clinic",
                ));
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Validation(problems));
        }
        Ok(DoctorWrite {
            search_text: doctor_search_text(&name, email.as_deref(), &specialty),
            user_id,
            name,
            specialty,
            license_number,
            email,
            updated_at: db::now(),
        })
    }

    /// Stores a profile as given, without a caller or checks: seeding only (demo doctors).
    pub async fn insert_seeded(&self, doctor: NewDoctor) -> AppResult<Doctor> {
        Ok(self.doctors.insert(doctor).await?)
    }

    /// Every doctor id of a clinic: seeding only, to spread synthetic patients and visits.
    pub async fn ids_in_clinic(&self, clinic_id: i64) -> AppResult<Vec<i64>> {
        Ok(self.doctors.list_ids(clinic_id).await?)
    }
}

fn require_admin(caller: &Caller) -> AppResult<()> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden("only an ADMIN may manage doctors"))
    }
}

fn linked_twice(error: db::DbError) -> AppError {
    if error.is_unique_violation_of("user_id") {
        AppError::invalid("userId", "already has a doctor profile")
    } else {
        error.into()
    }
}
