-- Who saw or changed which health data, when. One row is one access decision in one request:
-- an action on one or more records of one entity type (of one patient, when they are patient
-- data). No foreign keys: the trail must outlive the records it names.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    clinic_id INTEGER NOT NULL,
    actor_id INTEGER NOT NULL,
    actor_email TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    -- The records' ids, comma-separated ('' when a refused write named none).
    entity_ids TEXT NOT NULL,
    patient_id INTEGER,
    -- The field whose read was refused, for DENIED field reads.
    field TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('ALLOWED', 'DENIED')),
    request_id TEXT NOT NULL,
    client_ip TEXT NOT NULL
);
CREATE INDEX audit_events_clinic_time ON audit_events (clinic_id, occurred_at, id);
CREATE INDEX audit_events_clinic_patient_time
    ON audit_events (clinic_id, patient_id, occurred_at, id);

-- Append-only, whoever asks: the API has no way to change the trail, and neither has SQL.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
