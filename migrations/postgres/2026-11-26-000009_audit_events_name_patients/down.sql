-- An event that names several patients keeps only the first: one column cannot hold them all.
ALTER TABLE audit_events ADD COLUMN patient_id BIGINT;
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change;
UPDATE audit_events SET patient_id = split_part(patient_ids, ',', 1)::bigint
    WHERE patient_ids <> '';
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change;
ALTER TABLE audit_events DROP COLUMN patient_ids;
CREATE INDEX audit_events_clinic_patient_time
    ON audit_events (clinic_id, patient_id, occurred_at, id);
DROP TRIGGER audit_events_index_patients ON audit_events;
DROP FUNCTION audit_events_index_patients();
DROP TABLE audit_event_patients;
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
