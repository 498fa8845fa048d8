ALTER TABLE background_jobs DROP COLUMN payload;
