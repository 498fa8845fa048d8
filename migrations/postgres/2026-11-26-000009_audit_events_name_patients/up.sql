-- One event names every patient whose records it covers: a page of 20 patients with their
-- appointments and prescriptions is one row per kind of record, not one per patient and kind.
-- patient_ids lists them, comma-separated like entity_ids; audit_event_patients holds one
-- narrow row per patient named, the index that finds a patient's events, kept by a trigger
-- once per INSERT statement.
ALTER TABLE audit_events ADD COLUMN patient_ids TEXT NOT NULL DEFAULT '';

CREATE TABLE audit_event_patients (
    patient_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (patient_id, event_id)
);
INSERT INTO audit_event_patients (patient_id, event_id)
    SELECT patient_id, id FROM audit_events WHERE patient_id IS NOT NULL;

-- The one change the trail ever takes: carrying each stored patient over to the new column.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change;
UPDATE audit_events SET patient_ids = patient_id::text WHERE patient_id IS NOT NULL;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change;

DROP INDEX audit_events_clinic_patient_time;
ALTER TABLE audit_events DROP COLUMN patient_id;
ALTER TABLE audit_events ALTER COLUMN patient_ids DROP DEFAULT;

CREATE FUNCTION audit_events_index_patients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_event_patients (patient_id, event_id)
        SELECT DISTINCT patient.id, stored.id
        FROM stored_events stored,
            unnest(string_to_array(stored.patient_ids, ',')::bigint[]) AS patient(id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER audit_events_index_patients AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS stored_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_index_patients();

-- One refusal for both tables of the trail, naming the table it guards.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER audit_event_patients_no_change BEFORE UPDATE OR DELETE ON audit_event_patients
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_event_patients_no_truncate BEFORE TRUNCATE ON audit_event_patients
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
