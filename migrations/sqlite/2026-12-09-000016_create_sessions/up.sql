-- Sessions: what a login starts and each refresh continues, until logout, revocation or
-- expiry. The refresh token is kept only as a hash (SHA-256, hex) of the current one and of the
-- one it replaced (a retry within the grace window gets the same answer; any other use of an
-- old token ends the session).
CREATE TABLE sessions (
    -- AUTOINCREMENT: an id is never used again, so no token of an ended session can name a
    -- later one.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    clinic_id INTEGER NOT NULL REFERENCES clinics (id),
    -- How many times the refresh token was rotated; part of the token.
    generation INTEGER NOT NULL DEFAULT 0,
    refresh_hash TEXT NOT NULL,
    previous_hash TEXT,
    rotated_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    -- The absolute end; the idle end is last_used_at plus the configured idle lifetime.
    expires_at TIMESTAMP NOT NULL,
    client_ip TEXT NOT NULL,
    user_agent TEXT,
    revoked_at TIMESTAMP,
    revoked_reason TEXT
);
-- A user's sessions, newest first (mySessions, logoutEverywhere).
CREATE INDEX sessions_user ON sessions (user_id, id);
