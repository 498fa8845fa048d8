-- A patient's events are found through the requests that read or wrote their data, not through
-- each event: a page of 20 patients with their appointments and prescriptions is three events
-- naming the same 20 patients, 60 rows of audit_event_patients, and with the trigger that wrote
-- them, the trail took about as much of PostgreSQL's time as the reads. Now a request's events
-- share a group_id (the writer counts groups up from a random start), audit_event_patients holds
-- one row per patient and group (20), written by the same statement as the events, and a
-- lookup keeps only those of a group's events that name the patient.
-- Events stored before are each a group of their own: their group_id is their id, so the rows
-- already in audit_event_patients stay right as they are.
ALTER TABLE audit_events ADD COLUMN group_id BIGINT;
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change;
UPDATE audit_events SET group_id = id;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change;
ALTER TABLE audit_events ALTER COLUMN group_id SET NOT NULL;
CREATE INDEX audit_events_group ON audit_events (group_id);

DROP TRIGGER audit_events_index_patients ON audit_events;
DROP FUNCTION audit_events_index_patients();
ALTER TABLE audit_event_patients RENAME COLUMN event_id TO group_id;
