//! GraphQL inputs of the doctor API.
use async_graphql::{ID, InputObject, MaybeUndefined};

use super::model::DoctorFilter;
use super::service::DoctorInput;
use crate::core::ids::{NodeType, decode_as};
use crate::core::patch::Patch;

#[derive(InputObject, Debug)]
pub struct CreateDoctorInput {
    pub name: String,
    pub specialty: String,
    pub license_number: Option<String>,
    pub email: Option<String>,
    /// The DOCTOR account this profile belongs to.
    pub user_id: Option<ID>,
}

/// A partial update: omitted fields keep their values; `null` clears an optional field.
#[derive(InputObject, Debug, Default)]
pub struct UpdateDoctorInput {
    pub name: MaybeUndefined<String>,
    pub specialty: MaybeUndefined<String>,
    pub license_number: MaybeUndefined<String>,
    pub email: MaybeUndefined<String>,
    pub user_id: MaybeUndefined<ID>,
}

#[derive(InputObject, Debug, Default)]
#[graphql(name = "DoctorFilter")]
pub struct DoctorFilterInput {
    /// Exact specialty, e.g. "Cardiology".
    pub specialty: Option<String>,
    /// Part of the name, email or specialty, ignoring case and accents ("jose" finds "José").
    pub search: Option<String>,
}

fn user_ref(id: ID) -> Option<i64> {
    decode_as(NodeType::User, &id)
}

impl From<CreateDoctorInput> for DoctorInput {
    fn from(input: CreateDoctorInput) -> Self {
        DoctorInput {
            name: Patch::Set(input.name),
            specialty: Patch::Set(input.specialty),
            license_number: input.license_number.map_or(Patch::Keep, Patch::Set),
            email: input.email.map_or(Patch::Keep, Patch::Set),
            user_id: input
                .user_id
                .map_or(Patch::Keep, |id| Patch::Set(user_ref(id))),
        }
    }
}

impl From<UpdateDoctorInput> for DoctorInput {
    fn from(input: UpdateDoctorInput) -> Self {
        DoctorInput {
            name: input.name.into(),
            specialty: input.specialty.into(),
            license_number: input.license_number.into(),
            email: input.email.into(),
            user_id: input.user_id.map_value(user_ref).into(),
        }
    }
}

impl From<DoctorFilterInput> for DoctorFilter {
    fn from(input: DoctorFilterInput) -> Self {
        DoctorFilter {
            specialty: input
                .specialty
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            search: input.search,
        }
    }
}
