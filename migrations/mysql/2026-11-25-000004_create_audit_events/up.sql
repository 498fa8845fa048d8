-- Who saw or changed which health data, when. One row is one access decision in one request:
-- an action on one or more records of one entity type (of one patient, when they are patient
-- data). No foreign keys: the trail must outlive the records it names.
CREATE TABLE audit_events (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    occurred_at DATETIME(6) NOT NULL,
    clinic_id BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    actor_email VARCHAR(320) NOT NULL,
    actor_role VARCHAR(16) NOT NULL,
    action VARCHAR(64) NOT NULL,
    entity_type VARCHAR(32) NOT NULL,
    -- The records' ids, comma-separated ('' when a refused write named none).
    entity_ids TEXT NOT NULL,
    patient_id BIGINT,
    -- The field whose read was refused, for DENIED field reads.
    field VARCHAR(100),
    outcome VARCHAR(8) NOT NULL CHECK (outcome IN ('ALLOWED', 'DENIED')),
    request_id VARCHAR(64) NOT NULL,
    client_ip VARCHAR(64) NOT NULL,
    KEY audit_events_clinic_time (clinic_id, occurred_at, id),
    KEY audit_events_clinic_patient_time (clinic_id, patient_id, occurred_at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Append-only, whoever asks: the API has no way to change the trail, and neither has SQL
-- (TRUNCATE fires no trigger here: it needs the DROP privilege, which the service's account
-- should not have).
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_events is append-only';
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_events is append-only';
