DROP INDEX background_jobs_dedupe_key;
ALTER TABLE background_jobs DROP COLUMN dedupe_key;
