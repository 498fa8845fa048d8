//! GraphQL inputs of the patient API and their translation into service input.
use async_graphql::{ID, InputObject, MaybeUndefined};

use super::model::{BloodGroup, OrderDirection, PatientFilter, PatientOrder, PatientOrderField};
use super::validation::{DoctorRef, Patch, PatientInput};
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{NodeType, decode_as};
use crate::graphql::scalars::Date;

#[derive(InputObject, Debug)]
pub struct CreatePatientInput {
    /// 1 to 200 characters, trimmed.
    pub name: String,
    /// Stored lowercased; unique among the clinic's patients.
    pub email: String,
    /// Exactly 10 digits; spaces, dashes, dots and parentheses are ignored.
    pub phone: String,
    pub blood_group: Option<BloodGroup>,
    /// Not in the future.
    pub date_of_birth: Option<Date>,
    /// Readable and writable by ADMIN, DOCTOR and NURSE only.
    pub internal_notes: Option<String>,
    /// A doctor of the caller's clinic.
    pub primary_doctor_id: Option<ID>,
}

/// A partial update: omitted fields keep their values; `null` clears an optional field
/// (`bloodGroup`, `dateOfBirth`, `internalNotes`, `primaryDoctorId`) and is refused for a
/// required one (`name`, `email`, `phone`).
#[derive(InputObject, Debug, Default)]
pub struct UpdatePatientInput {
    pub name: MaybeUndefined<String>,
    pub email: MaybeUndefined<String>,
    /// Exactly 10 digits; can be changed, not cleared.
    pub phone: MaybeUndefined<String>,
    pub blood_group: MaybeUndefined<BloodGroup>,
    /// Not in the future; `null` clears it.
    pub date_of_birth: MaybeUndefined<Date>,
    pub internal_notes: MaybeUndefined<String>,
    pub primary_doctor_id: MaybeUndefined<ID>,
}

/// Narrows the patient list; every field is optional and they combine with AND.
#[derive(InputObject, Debug, Default)]
#[graphql(name = "PatientFilter")]
pub struct PatientFilterInput {
    /// Part of the name or email, ignoring case and accents both ways: "zoe" finds "Zoë", and
    /// "zoë" finds "Zoe"; `%` and `_` match literally. A phone number (10 digits, separators
    /// allowed) also finds the patient with exactly that phone: phones are stored encrypted and
    /// are not matched in part.
    pub search: Option<String>,
    pub blood_group: Option<BloodGroup>,
    pub primary_doctor_id: Option<ID>,
}

/// The order of the patient list; ties are broken by id, so pages never overlap.
#[derive(InputObject, Debug, Clone, Copy)]
#[graphql(name = "PatientOrder")]
pub struct PatientOrderInput {
    pub field: PatientOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<CreatePatientInput> for PatientInput {
    fn from(input: CreatePatientInput) -> Self {
        PatientInput {
            name: Patch::Set(input.name),
            email: Patch::Set(input.email),
            phone: Patch::Set(input.phone),
            blood_group: input.blood_group.map_or(Patch::Keep, Patch::Set),
            date_of_birth: input.date_of_birth.map_or(Patch::Keep, |d| Patch::Set(d.0)),
            internal_notes: input.internal_notes.map_or(Patch::Keep, Patch::Set),
            primary_doctor: input
                .primary_doctor_id
                .map_or(Patch::Keep, |id| Patch::Set(doctor_ref(&id))),
        }
    }
}

impl From<UpdatePatientInput> for PatientInput {
    fn from(input: UpdatePatientInput) -> Self {
        PatientInput {
            name: patch(input.name),
            email: patch(input.email),
            phone: patch(input.phone),
            blood_group: patch(input.blood_group),
            date_of_birth: patch(input.date_of_birth.map_value(|d| d.0)),
            internal_notes: patch(input.internal_notes),
            primary_doctor: patch(input.primary_doctor_id.map_value(|id| doctor_ref(&id))),
        }
    }
}

impl PatientFilterInput {
    pub fn into_filter(self) -> AppResult<PatientFilter> {
        let primary_doctor_id = match self.primary_doctor_id {
            None => None,
            Some(id) => Some(decode_as(NodeType::Doctor, &id).ok_or_else(|| {
                AppError::invalid("filter.primaryDoctorId", "is not a doctor id")
            })?),
        };
        Ok(PatientFilter {
            search: self.search,
            phone_indexes: Vec::new(),
            blood_group: self.blood_group,
            primary_doctor_id,
            only_id: None,
        })
    }
}

impl From<PatientOrderInput> for PatientOrder {
    fn from(input: PatientOrderInput) -> Self {
        PatientOrder {
            field: input.field,
            direction: input.direction,
        }
    }
}

fn patch<T>(value: MaybeUndefined<T>) -> Patch<T> {
    value.into()
}

fn doctor_ref(id: &ID) -> DoctorRef {
    decode_as(NodeType::Doctor, id).map_or(DoctorRef::Malformed, DoctorRef::Id)
}
