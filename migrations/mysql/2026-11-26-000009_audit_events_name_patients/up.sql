-- One event names every patient whose records it covers: patient_ids lists them,
-- comma-separated like entity_ids; audit_event_patients holds one narrow row per patient named,
-- the index that finds a patient's events. No MySQL database predates this version, so no
-- stored event is carried over, and the rows of audit_event_patients are written by the audit
-- writer from the next version on (on the other backends a trigger wrote them until then).
ALTER TABLE audit_events
    DROP INDEX audit_events_clinic_patient_time,
    DROP COLUMN patient_id,
    ADD COLUMN patient_ids TEXT NOT NULL;

CREATE TABLE audit_event_patients (
    patient_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (patient_id, event_id)
) ENGINE = InnoDB;
CREATE TRIGGER audit_event_patients_no_update BEFORE UPDATE ON audit_event_patients FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_event_patients is append-only';
CREATE TRIGGER audit_event_patients_no_delete BEFORE DELETE ON audit_event_patients FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_event_patients is append-only';
