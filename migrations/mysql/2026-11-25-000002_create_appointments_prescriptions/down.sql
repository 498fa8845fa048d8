ALTER TABLE doctors DROP INDEX doctors_clinic_name_idx, DROP COLUMN search_text;
DROP TABLE prescriptions;
DROP TABLE appointments;
ALTER TABLE patients DROP INDEX patients_id_clinic_key;
