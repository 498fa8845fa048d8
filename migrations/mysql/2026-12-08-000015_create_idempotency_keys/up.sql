-- Mutations sent with an `Idempotency-Key` header: the first answer, replayed to the same
-- caller's retries of the same request for 24 hours instead of running the mutation again.
CREATE TABLE idempotency_keys (
    clinic_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    idempotency_key VARCHAR(255) NOT NULL,
    -- SHA-256 (hex) of the request's operations: query, variables, operation name.
    fingerprint CHAR(64) NOT NULL,
    -- The answer as sent; NULL while the mutation runs.
    status INT,
    content_type VARCHAR(255),
    body LONGTEXT,
    created_at DATETIME(6) NOT NULL,
    completed_at DATETIME(6),
    PRIMARY KEY (clinic_id, user_id, idempotency_key),
    CONSTRAINT idempotency_keys_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id),
    CONSTRAINT idempotency_keys_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    -- Expired keys are deleted by age.
    KEY idempotency_keys_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
