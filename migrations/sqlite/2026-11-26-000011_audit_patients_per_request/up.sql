-- A patient's events are found through the requests that read or wrote their data, not through
-- each event (see the PostgreSQL migration of the same name): a request's events share a
-- group_id, audit_event_patients holds one row per patient and group, written by the writer in
-- the same transaction as the events, and a lookup keeps only those of a group's events that
-- name the patient. Events stored before are each a group of their own (group_id = id), so the
-- rows already in audit_event_patients stay right.
ALTER TABLE audit_events ADD COLUMN group_id INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER audit_events_no_update;
UPDATE audit_events SET group_id = id;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE INDEX audit_events_group ON audit_events (group_id);

DROP TRIGGER audit_events_index_patients;
ALTER TABLE audit_event_patients RENAME COLUMN event_id TO group_id;
