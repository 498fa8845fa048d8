//! The appointments under a patient and under a doctor, declared as nested lists (see
//! `modules::nested`).
use diesel::sql_types::Untyped;

use super::columns::{self, KEYS, NAMES, PartialAppointment};
use super::model::AppointmentFilter;
use crate::core::pagination::KeyCursor;
use crate::db::columns::Columns;
use crate::db::per_parent::PerParentQuery;
use crate::modules::nested::{NestedList, NestedReads};
use crate::modules::registry::Services;

/// Which record a list of appointments hangs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppointmentParent {
    Patient,
    Doctor,
}

/// The appointment lists: by start time, narrowed by status and time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Appointments;

impl NestedList for Appointments {
    type Row = PartialAppointment;
    type Parent = AppointmentParent;
    /// Its patient and doctor are unused: the parent says whose.
    type Filter = AppointmentFilter;

    const TABLE: &'static str = "appointments";
    const ORDER_BY: &'static str = "scheduled_at, id";
    const COLUMNS: &'static [&'static str] = NAMES;
    const KEYS: Columns = KEYS;
    const DOCTOR_COLUMN: &'static str = "doctor_id";
    const DOCTOR_FIELD: &'static str = "doctor";

    fn parent_column(parent: AppointmentParent) -> (&'static str, Columns) {
        match parent {
            AppointmentParent::Patient => ("patient_id", columns::PATIENT_ID),
            AppointmentParent::Doctor => ("doctor_id", columns::DOCTOR_ID),
        }
    }

    fn checks_patient(parent: AppointmentParent) -> bool {
        parent == AppointmentParent::Doctor
    }

    fn filtered(
        mut query: PerParentQuery<Untyped>,
        filter: &AppointmentFilter,
    ) -> PerParentQuery<Untyped> {
        if let Some(status) = filter.status {
            query = query.eq_name("status", status.as_str());
        }
        if let Some(from) = filter.from {
            query = query.at_or_after("scheduled_at", from);
        }
        if let Some(to) = filter.to {
            query = query.before("scheduled_at", to);
        }
        query
    }

    fn columns_of(field: &str) -> Option<Columns> {
        columns::columns_of(field)
    }

    fn parent_of(parent: AppointmentParent, row: &PartialAppointment) -> Option<i64> {
        Some(match parent {
            AppointmentParent::Patient => row.patient_id,
            AppointmentParent::Doctor => row.doctor_id,
        })
    }

    fn doctor_of(row: &PartialAppointment) -> Option<i64> {
        Some(row.doctor_id)
    }

    fn cursor(row: &PartialAppointment) -> KeyCursor {
        row.cursor()
    }

    fn owner(services: &Services) -> &dyn NestedReads<Self> {
        services.appointments.as_ref()
    }
}
