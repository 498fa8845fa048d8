//! GraphQL inputs of the prescription API.
use async_graphql::{ID, InputObject};

use super::model::{PrescriptionFilter, PrescriptionStatus};
use super::service::PrescribeRequest;
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{NodeType, decode_as};
use crate::graphql::scalars::Date;

#[derive(InputObject, Debug)]
pub struct PrescribeInput {
    pub patient_id: ID,
    /// The appointment it was written at, if any; must be the same patient's.
    pub appointment_id: Option<ID>,
    pub medication: String,
    /// e.g. "500 mg"
    pub dosage: String,
    /// e.g. "twice daily"
    pub frequency: String,
    /// e.g. "oral"
    pub route: String,
    pub start_date: Date,
    /// Not before startDate.
    pub end_date: Option<Date>,
    /// 0 to 12.
    #[graphql(default = 0)]
    pub refills: i32,
}

/// Narrows prescription lists; fields combine with AND.
#[derive(InputObject, Debug, Default)]
#[graphql(name = "PrescriptionFilter")]
pub struct PrescriptionFilterInput {
    pub patient_id: Option<ID>,
    pub prescriber_id: Option<ID>,
    pub status: Option<PrescriptionStatus>,
    /// Part of the medication name, case-insensitive.
    pub medication: Option<String>,
}

impl From<PrescribeInput> for PrescribeRequest {
    fn from(input: PrescribeInput) -> Self {
        PrescribeRequest {
            patient_id: decode_as(NodeType::Patient, &input.patient_id),
            appointment_id: input
                .appointment_id
                .map(|id| decode_as(NodeType::Appointment, &id)),
            medication: input.medication,
            dosage: input.dosage,
            frequency: input.frequency,
            route: input.route,
            start_date: input.start_date.0,
            end_date: input.end_date.map(|d| d.0),
            refills: input.refills,
        }
    }
}

impl PrescriptionFilterInput {
    pub fn into_filter(self) -> AppResult<PrescriptionFilter> {
        let id = |value: Option<ID>, node_type, field: &str| match value {
            None => Ok(None),
            Some(id) => decode_as(node_type, &id)
                .map(Some)
                .ok_or_else(|| AppError::invalid(field, "is not an id of that type")),
        };
        Ok(PrescriptionFilter {
            patient_id: id(self.patient_id, NodeType::Patient, "filter.patientId")?,
            prescriber_id: id(self.prescriber_id, NodeType::Doctor, "filter.prescriberId")?,
            appointment_id: None,
            status: self.status,
            medication: self
                .medication
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty()),
        })
    }
}
