DROP INDEX doctors_clinic_name_idx;
ALTER TABLE doctors DROP COLUMN search_text;
DROP TABLE prescriptions;
DROP TABLE appointments;
DROP INDEX patients_id_clinic_key;
