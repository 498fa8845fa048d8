//! Which rows a caller may see at all: one clinic, and for a PATIENT one patient. Every
//! repository read of clinical data takes a scope, so no query can forget the tenancy rule.
use super::auth::{Caller, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    pub clinic_id: i64,
    /// Set for PATIENT callers: only rows of this patient are visible.
    pub patient_id: Option<i64>,
}

impl Scope {
    /// Whether a row of `clinic_id` about `patient_id` is inside the scope: the rule every
    /// scoped query applies, for rows that did not come from such a query (cache, events).
    pub fn admits(&self, clinic_id: i64, patient_id: i64) -> bool {
        clinic_id == self.clinic_id && self.patient_id.is_none_or(|own| own == patient_id)
    }

    pub fn of(caller: &Caller) -> Scope {
        Scope {
            clinic_id: caller.clinic_id,
            // A PATIENT account without a linked record sees nothing (no patient has id 0).
            patient_id: (caller.role == Role::Patient).then(|| caller.patient_id.unwrap_or(0)),
        }
    }
}
