-- A patient's events are found through the requests that read or wrote their data (see the
-- PostgreSQL migration of the same name): a request's events share a group_id, and
-- audit_event_patients holds one row per patient and group, written by the writer in the same
-- transaction as the events.
ALTER TABLE audit_events ADD COLUMN group_id BIGINT NOT NULL, ADD KEY audit_events_group (group_id);
ALTER TABLE audit_event_patients RENAME COLUMN event_id TO group_id;
