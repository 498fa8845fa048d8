//! Who may do what with patient records. Guards use these lists to refuse early; the service
//! checks them again because it is the authority (and is used outside GraphQL).
use crate::core::auth::Role;

/// May create and update patients.
pub const WRITERS: &[Role] = &[Role::Admin, Role::Doctor, Role::Nurse, Role::Receptionist];
/// May read and write `internalNotes`.
pub const NOTE_READERS: &[Role] = &[Role::Admin, Role::Doctor, Role::Nurse];
/// May delete and restore patients.
pub const ARCHIVERS: &[Role] = &[Role::Admin];
