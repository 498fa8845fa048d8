-- SQL cannot open sealed values: they stay sealed, and a sealed date of birth is dropped.
-- To go back past this migration with the data, restore a backup taken before it.
DROP INDEX patients_clinic_phone_index_idx;
ALTER TABLE patients DROP COLUMN phone_index;
ALTER TABLE patients ALTER COLUMN date_of_birth TYPE DATE
    USING CASE WHEN date_of_birth ~ '^\d{4}-\d{2}-\d{2}$' THEN date_of_birth::date END;
DROP TABLE seal_rewrites;
