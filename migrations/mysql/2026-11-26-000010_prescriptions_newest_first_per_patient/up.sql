-- A patient's prescriptions are read newest first (the per-patient pages of the nested
-- queries): in that order the index hands them over without a sort (descending index parts:
-- MySQL 8, MariaDB 10.8 and later).
DROP INDEX prescriptions_patient_idx ON prescriptions;
CREATE INDEX prescriptions_patient_idx ON prescriptions (patient_id, created_at DESC, id DESC);
