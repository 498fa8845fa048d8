-- When a delayed job (an appointment reminder) is due; NULL for a job to run at once. Until
-- then it is QUEUED but not waiting for a worker.
ALTER TABLE background_jobs ADD COLUMN run_at DATETIME(6);
