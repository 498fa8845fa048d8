-- One event names every patient whose records it covers: a page of 20 patients with their
-- appointments and prescriptions is one row per kind of record, not one per patient and kind.
-- patient_ids lists them, comma-separated like entity_ids; audit_event_patients holds one
-- narrow row per patient named, the index that finds a patient's events, kept by a trigger.
ALTER TABLE audit_events ADD COLUMN patient_ids TEXT NOT NULL DEFAULT '';

-- The one change the trail ever takes: carrying each stored patient over to the new column.
DROP TRIGGER audit_events_no_update;
UPDATE audit_events SET patient_ids = CAST(patient_id AS TEXT) WHERE patient_id IS NOT NULL;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

DROP INDEX audit_events_clinic_patient_time;
ALTER TABLE audit_events DROP COLUMN patient_id;

CREATE TABLE audit_event_patients (
    patient_id INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (patient_id, event_id)
) WITHOUT ROWID;
INSERT INTO audit_event_patients (patient_id, event_id)
    SELECT CAST(patient_ids AS INTEGER), id FROM audit_events WHERE patient_ids <> '';
-- '1,2,3' wrapped in brackets is a JSON array.
CREATE TRIGGER audit_events_index_patients AFTER INSERT ON audit_events
BEGIN
    INSERT INTO audit_event_patients (patient_id, event_id)
        SELECT DISTINCT value, NEW.id FROM json_each('[' || NEW.patient_ids || ']');
END;
CREATE TRIGGER audit_event_patients_no_update BEFORE UPDATE ON audit_event_patients
BEGIN
    SELECT RAISE(ABORT, 'audit_event_patients is append-only');
END;
CREATE TRIGGER audit_event_patients_no_delete BEFORE DELETE ON audit_event_patients
BEGIN
    SELECT RAISE(ABORT, 'audit_event_patients is append-only');
END;
