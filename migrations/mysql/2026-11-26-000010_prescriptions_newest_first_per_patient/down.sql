DROP INDEX prescriptions_patient_idx ON prescriptions; CREATE INDEX prescriptions_patient_idx ON prescriptions (patient_id, created_at, id);
