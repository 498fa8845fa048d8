-- What clients see of background jobs. The queue itself (Redis, or the SQLite queue file) only
-- carries a job's id; this row is the job's state, kept in the database the API reads.
CREATE TABLE background_jobs (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    clinic_id BIGINT NOT NULL,
    requested_by BIGINT NOT NULL,
    kind VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    progress INT NOT NULL CHECK (progress BETWEEN 0 AND 100),
    attempts INT NOT NULL,
    error TEXT,
    -- JSON, once the job succeeded.
    result TEXT,
    created_at DATETIME(6) NOT NULL,
    started_at DATETIME(6),
    finished_at DATETIME(6),
    CONSTRAINT background_jobs_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id),
    CONSTRAINT background_jobs_requested_by_fk FOREIGN KEY (requested_by) REFERENCES users (id),
    KEY background_jobs_clinic_created (clinic_id, created_at, id),
    KEY background_jobs_waiting (status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
