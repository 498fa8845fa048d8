-- What clients see of background jobs. The queue itself (Redis, or the SQLite queue file) only
-- carries a job's id; this row is the job's state, kept in the database the API reads.
CREATE TABLE background_jobs (
    id BIGSERIAL PRIMARY KEY,
    clinic_id BIGINT NOT NULL REFERENCES clinics (id),
    requested_by BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    progress INTEGER NOT NULL CHECK (progress BETWEEN 0 AND 100),
    attempts INTEGER NOT NULL,
    error TEXT,
    -- JSON, once the job succeeded.
    result TEXT,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX background_jobs_clinic_created ON background_jobs (clinic_id, created_at, id);
CREATE INDEX background_jobs_waiting ON background_jobs (status)
    WHERE status IN ('QUEUED', 'RUNNING');
