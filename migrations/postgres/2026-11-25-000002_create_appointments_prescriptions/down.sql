ALTER TABLE doctors DROP COLUMN search_text;
DROP INDEX doctors_clinic_name_idx;
DROP INDEX doctors_user_idx;
DROP TABLE prescriptions;
DROP TABLE appointments;
ALTER TABLE patients DROP CONSTRAINT patients_id_clinic_key;
