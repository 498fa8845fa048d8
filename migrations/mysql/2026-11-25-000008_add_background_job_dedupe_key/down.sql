ALTER TABLE background_jobs DROP INDEX background_jobs_dedupe_key, DROP COLUMN dedupe_key;
