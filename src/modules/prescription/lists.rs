//! The prescriptions under a patient and under an appointment, declared as nested lists (see
//! `modules::nested`).
use diesel::sql_types::Untyped;

use super::columns::{self, KEYS, NAMES, PartialPrescription};
use super::model::PrescriptionStatus;
use crate::core::pagination::KeyCursor;
use crate::db::columns::Columns;
use crate::db::per_parent::PerParentQuery;
use crate::modules::nested::{NestedList, NestedReads};
use crate::modules::registry::Services;

/// Which record a list of prescriptions hangs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrescriptionParent {
    Patient,
    Appointment,
}

/// The prescription lists: newest first, narrowed by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prescriptions;

impl NestedList for Prescriptions {
    type Row = PartialPrescription;
    type Parent = PrescriptionParent;
    type Filter = Option<PrescriptionStatus>;

    const TABLE: &'static str = "prescriptions";
    const ORDER_BY: &'static str = "created_at DESC, id DESC";
    const COLUMNS: &'static [&'static str] = NAMES;
    const KEYS: Columns = KEYS;
    const DOCTOR_COLUMN: &'static str = "prescriber_id";
    const DOCTOR_FIELD: &'static str = "prescriber";

    fn parent_column(parent: PrescriptionParent) -> (&'static str, Columns) {
        match parent {
            PrescriptionParent::Patient => ("patient_id", columns::PATIENT_ID),
            PrescriptionParent::Appointment => ("appointment_id", columns::APPOINTMENT_ID),
        }
    }

    /// An appointment's prescriptions are its patient's, who was read as a live record.
    fn checks_patient(_: PrescriptionParent) -> bool {
        false
    }

    fn filtered(
        query: PerParentQuery<Untyped>,
        status: &Option<PrescriptionStatus>,
    ) -> PerParentQuery<Untyped> {
        match status {
            Some(status) => query.eq_name("status", status.as_str()),
            None => query,
        }
    }

    fn columns_of(field: &str) -> Option<Columns> {
        columns::columns_of(field)
    }

    fn parent_of(parent: PrescriptionParent, row: &PartialPrescription) -> Option<i64> {
        match parent {
            PrescriptionParent::Patient => Some(row.patient_id),
            PrescriptionParent::Appointment => row.appointment_id.flatten(),
        }
    }

    fn doctor_of(row: &PartialPrescription) -> Option<i64> {
        row.prescriber_id
    }

    fn cursor(row: &PartialPrescription) -> KeyCursor {
        row.cursor()
    }

    fn owner(services: &Services) -> &dyn NestedReads<Self> {
        services.prescriptions.as_ref()
    }
}
