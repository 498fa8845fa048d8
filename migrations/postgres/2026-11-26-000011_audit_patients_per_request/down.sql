-- Back to one index row per patient and event, kept by a trigger and rebuilt from the events'
-- own patient lists.
DROP TABLE audit_event_patients;
CREATE TABLE audit_event_patients (
    patient_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (patient_id, event_id)
);
INSERT INTO audit_event_patients (patient_id, event_id)
    SELECT DISTINCT patient.id, stored.id
    FROM audit_events stored,
        unnest(string_to_array(stored.patient_ids, ',')::bigint[]) AS patient(id);
CREATE TRIGGER audit_event_patients_no_change BEFORE UPDATE OR DELETE ON audit_event_patients
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_event_patients_no_truncate BEFORE TRUNCATE ON audit_event_patients
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

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

DROP INDEX audit_events_group;
ALTER TABLE audit_events DROP COLUMN group_id;
