-- Mutations sent with an `Idempotency-Key` header: the first answer, replayed to the same
-- caller's retries of the same request for 24 hours instead of running the mutation again.
CREATE TABLE idempotency_keys (
    clinic_id INTEGER NOT NULL REFERENCES clinics (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    -- SHA-256 (hex) of the request's operations: query, variables, operation name.
    fingerprint TEXT NOT NULL,
    -- The answer as sent; NULL while the mutation runs.
    status INTEGER,
    content_type TEXT,
    body TEXT,
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    PRIMARY KEY (clinic_id, user_id, idempotency_key)
);
-- Expired keys are deleted by age.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
