DROP TABLE audit_event_patients; ALTER TABLE audit_events DROP COLUMN patient_ids, ADD COLUMN patient_id BIGINT;
