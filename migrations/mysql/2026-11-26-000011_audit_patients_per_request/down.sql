ALTER TABLE audit_event_patients RENAME COLUMN group_id TO event_id; ALTER TABLE audit_events DROP KEY audit_events_group, DROP COLUMN group_id;
