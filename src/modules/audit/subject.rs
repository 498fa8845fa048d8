//! The records an audit event can name, and how each kind of record names itself.
use super::model::AuditEntity;

/// A record as the audit trail names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subject {
    pub entity: AuditEntity,
    pub id: i64,
    /// The patient whose data this is (none for a doctor).
    pub patient_id: Option<i64>,
}

/// Records the trail can name.
pub trait Audited {
    fn audit_subject(&self) -> Subject;
}

impl Audited for Subject {
    fn audit_subject(&self) -> Subject {
        *self
    }
}

impl Subject {
    /// A record of `entity` that holds data of the patient `patient_id`.
    pub fn of_patient(entity: AuditEntity, id: i64, patient_id: i64) -> Subject {
        Subject {
            entity,
            id,
            patient_id: Some(patient_id),
        }
    }

    pub fn patient(id: i64) -> Subject {
        Subject {
            entity: AuditEntity::Patient,
            id,
            patient_id: Some(id),
        }
    }
}

impl Audited for crate::modules::patient::model::Patient {
    fn audit_subject(&self) -> Subject {
        Subject::patient(self.id)
    }
}

impl Audited for crate::modules::appointment::model::Appointment {
    fn audit_subject(&self) -> Subject {
        Subject::of_patient(AuditEntity::Appointment, self.id, self.patient_id)
    }
}

impl Audited for crate::modules::prescription::model::Prescription {
    fn audit_subject(&self) -> Subject {
        Subject::of_patient(AuditEntity::Prescription, self.id, self.patient_id)
    }
}

impl Audited for crate::modules::job::model::Job {
    fn audit_subject(&self) -> Subject {
        Subject {
            entity: AuditEntity::Job,
            id: self.id,
            patient_id: None,
        }
    }
}

impl Audited for crate::modules::doctor::model::Doctor {
    fn audit_subject(&self) -> Subject {
        Subject {
            entity: AuditEntity::Doctor,
            id: self.id,
            patient_id: None,
        }
    }
}
