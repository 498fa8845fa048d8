-- Back to one index row per patient and event, kept by a trigger and rebuilt from the events'
-- own patient lists.
DROP TABLE audit_event_patients;
CREATE TABLE audit_event_patients (
    patient_id INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (patient_id, event_id)
) WITHOUT ROWID;
INSERT INTO audit_event_patients (patient_id, event_id)
    SELECT DISTINCT value, audit_events.id
    FROM audit_events, json_each('[' || audit_events.patient_ids || ']');
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

DROP INDEX audit_events_group;
ALTER TABLE audit_events DROP COLUMN group_id;
