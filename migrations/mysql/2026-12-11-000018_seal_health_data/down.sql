-- SQL cannot open sealed values: they stay sealed (phones and prescriptions stay TEXT to hold
-- them), and a sealed date of birth is dropped. To go back past this migration with the
-- data, restore a backup taken before it.
ALTER TABLE patients DROP INDEX patients_clinic_phone_index_idx, DROP COLUMN phone_index;
UPDATE patients SET date_of_birth = NULL WHERE date_of_birth NOT REGEXP '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';
ALTER TABLE patients MODIFY COLUMN date_of_birth DATE NULL;
DROP TABLE seal_rewrites;
