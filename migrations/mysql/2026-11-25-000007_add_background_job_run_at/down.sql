ALTER TABLE background_jobs DROP COLUMN run_at;
