-- An operator disables an account (clinicgraph user disable / delete): it can no longer sign in.
ALTER TABLE users ADD COLUMN disabled_at DATETIME(6);
