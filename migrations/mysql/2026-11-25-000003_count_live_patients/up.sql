-- The number of live (not soft-deleted) patients per clinic, changed in the same transaction as
-- every write that changes it, so an unfiltered `totalCount` is one primary-key read instead of a
-- count(*) over the clinic's patients.
CREATE TABLE clinic_patient_counts (
    clinic_id BIGINT PRIMARY KEY,
    live_patients BIGINT NOT NULL CHECK (live_patients >= 0),
    CONSTRAINT clinic_patient_counts_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id)
) ENGINE = InnoDB;
INSERT INTO clinic_patient_counts (clinic_id, live_patients)
SELECT c.id, (SELECT count(*) FROM patients p WHERE p.clinic_id = c.id AND p.deleted_at IS NULL)
FROM clinics c;
