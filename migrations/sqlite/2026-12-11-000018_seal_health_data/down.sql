-- SQL cannot open sealed values: they stay sealed, and a sealed date of birth is dropped.
-- To go back past this migration with the data, restore a backup taken before it.
DROP INDEX patients_clinic_phone_index_idx;
ALTER TABLE patients DROP COLUMN phone_index;
UPDATE patients SET date_of_birth = NULL WHERE date_of_birth LIKE 'cg1.%';
DROP TABLE seal_rewrites;
