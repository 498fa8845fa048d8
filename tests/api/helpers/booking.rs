//! Booking helpers: times, demo ids and appointment mutations.
use serde_json::json;

use super::{TestApp, TestResponse};

/// An RFC 3339 instant `days` from now at `hour:minute` UTC (whole minutes, in the future for
/// any positive `days`).
pub fn at(days: i64, hour: u32, minute: u32) -> String {
    let date = (chrono::Utc::now() + chrono::Duration::days(days)).date_naive();
    date.and_hms_opt(hour, minute, 0)
        .expect("valid time")
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// The global id of the demo patient with key `n` (`PAT-00000n`).
pub fn demo_patient(n: i64) -> String {
    clinicgraph::core::ids::encode(clinicgraph::core::ids::NodeType::Patient, n)
}

const SCHEDULE: &str = "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id status scheduledAt endsAt durationMinutes } }";

impl TestApp {
    /// Schedules as `token`; the whole response, for asserting errors.
    pub async fn schedule(
        &self,
        token: &str,
        patient: &str,
        doctor: &str,
        start: &str,
        minutes: i32,
    ) -> TestResponse {
        let input = json!({ "patientId": patient, "doctorId": doctor, "scheduledAt": start, "durationMinutes": minutes });
        self.gql(Some(token), SCHEDULE, json!({ "i": input })).await
    }

    /// Schedules as `token` and returns the new appointment's id.
    pub async fn scheduled(&self, token: &str, patient: &str, doctor: &str, start: &str) -> String {
        let response = self.schedule(token, patient, doctor, start, 30).await;
        response.body["data"]["scheduleAppointment"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("schedule failed: {}", response.text))
            .to_owned()
    }

    /// Runs a status mutation (`confirmAppointment`, …) on `id`.
    pub async fn move_appointment(&self, token: &str, mutation: &str, id: &str) -> TestResponse {
        let query = if mutation == "cancelAppointment" {
            "mutation($id: ID!) { cancelAppointment(id: $id, reason: \"Patient is unwell\") { status cancellationReason } }".to_owned()
        } else {
            format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ status }} }}")
        };
        self.gql(Some(token), &query, json!({ "id": id })).await
    }
}
