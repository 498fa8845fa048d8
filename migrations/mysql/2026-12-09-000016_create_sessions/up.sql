-- Sessions: what a login starts and each refresh continues, until logout, revocation or
-- expiry. The refresh token is kept only as a hash (SHA-256, hex) of the current one and of the
-- one it replaced.
CREATE TABLE sessions (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    clinic_id BIGINT NOT NULL,
    -- How many times the refresh token was rotated; part of the token.
    generation BIGINT NOT NULL DEFAULT 0,
    refresh_hash VARCHAR(64) NOT NULL,
    previous_hash VARCHAR(64),
    rotated_at DATETIME(6),
    created_at DATETIME(6) NOT NULL,
    last_used_at DATETIME(6) NOT NULL,
    -- The absolute end; the idle end is last_used_at plus the configured idle lifetime.
    expires_at DATETIME(6) NOT NULL,
    client_ip VARCHAR(64) NOT NULL,
    user_agent VARCHAR(1024),
    revoked_at DATETIME(6),
    revoked_reason VARCHAR(64),
    CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT sessions_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id),
    -- A user's sessions, newest first (mySessions, logoutEverywhere).
    KEY sessions_user (user_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
