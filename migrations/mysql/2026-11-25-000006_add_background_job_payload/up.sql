-- What the job was asked to do, as JSON (an export's format and filter); NULL when the kind
-- needs nothing more.
ALTER TABLE background_jobs ADD COLUMN payload TEXT;
