-- A job that must exist once (the daily report of a clinic for a day) carries a key; a second
-- insert with the same key, from another instance or a re-run, does nothing.
ALTER TABLE background_jobs ADD COLUMN dedupe_key VARCHAR(255);
CREATE UNIQUE INDEX background_jobs_dedupe_key ON background_jobs (dedupe_key);
