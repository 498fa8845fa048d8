//! What a clinic report says.
use std::collections::BTreeMap;

use serde::Serialize;

use crate::modules::appointment::AppointmentStatus;

/// How many of the clinic's active prescriptions are for one medication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MedicationCount {
    pub medication: String,
    pub prescriptions: i64,
}

/// The figures of one clinic for one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClinicSummary {
    /// Appointments scheduled to start in the period, by their status now; every status is
    /// present, with 0 when there were none.
    pub appointments_by_status: BTreeMap<&'static str, i64>,
    pub appointments: i64,
    /// No-shows ÷ (completed + no-shows): the share of appointments whose outcome is known
    /// that the patient missed. `None` while there is no such appointment.
    pub no_show_rate: Option<f64>,
    /// Patients registered in the period (and still on record).
    pub new_patients: i64,
    /// Prescriptions ACTIVE now that started by the end of the period, most prescribed first.
    pub active_prescriptions_by_medication: Vec<MedicationCount>,
}

impl ClinicSummary {
    /// From the stored status names and counts; unknown names are left out.
    pub fn new(
        by_status: &[(String, i64)],
        new_patients: i64,
        active_prescriptions_by_medication: Vec<MedicationCount>,
    ) -> Self {
        let mut appointments_by_status: BTreeMap<&'static str, i64> = AppointmentStatus::ALL
            .iter()
            .map(|status| (status.as_str(), 0))
            .collect();
        for (stored, count) in by_status {
            if let Some(slot) = appointments_by_status.get_mut(stored.as_str()) {
                *slot += count;
            }
        }
        let count_of = |status: AppointmentStatus| appointments_by_status[status.as_str()];
        let no_shows = count_of(AppointmentStatus::NoShow);
        let known = no_shows + count_of(AppointmentStatus::Completed);
        let no_show_rate = (known > 0).then(|| no_shows as f64 / known as f64);
        Self {
            appointments: appointments_by_status.values().sum(),
            appointments_by_status,
            no_show_rate,
            new_patients,
            active_prescriptions_by_medication,
        }
    }
}

/// A clinic whose daily report the workers keep scheduled, and the ADMIN it is made for.
#[derive(Debug, Clone)]
pub struct DailyReportTarget {
    pub clinic_id: i64,
    pub timezone: String,
    pub admin_id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_no_show_rate_counts_only_appointments_whose_outcome_is_known() {
        let stored = [
            ("COMPLETED".to_owned(), 6),
            ("NO_SHOW".to_owned(), 2),
            ("SCHEDULED".to_owned(), 10),
            ("CANCELLED".to_owned(), 3),
            ("SOMETHING_ELSE".to_owned(), 99),
        ];
        let summary = ClinicSummary::new(&stored, 4, Vec::new());
        assert_eq!(summary.no_show_rate, Some(0.25));
        assert_eq!(summary.appointments, 21);
        assert_eq!(summary.appointments_by_status["CONFIRMED"], 0);
        assert_eq!(summary.appointments_by_status.len(), 6);
        assert_eq!(ClinicSummary::new(&[], 0, Vec::new()).no_show_rate, None);
    }
}
