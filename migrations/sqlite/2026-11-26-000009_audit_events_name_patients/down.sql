-- An event that names several patients keeps only the first: one column cannot hold them all.
DROP TRIGGER audit_event_patients_no_delete;
DROP TRIGGER audit_event_patients_no_update;
DROP TRIGGER audit_events_index_patients;
DROP TABLE audit_event_patients;
ALTER TABLE audit_events ADD COLUMN patient_id INTEGER;
DROP TRIGGER audit_events_no_update;
UPDATE audit_events SET patient_id = CAST(patient_ids AS INTEGER) WHERE patient_ids <> '';
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
ALTER TABLE audit_events DROP COLUMN patient_ids;
CREATE INDEX audit_events_clinic_patient_time
    ON audit_events (clinic_id, patient_id, occurred_at, id);
