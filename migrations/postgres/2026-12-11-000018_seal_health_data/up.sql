-- Health data is stored sealed (src/core/sealing): phone, date of birth and internal notes of
-- patients; reason, notes and cancellation reason of appointments; dosage, frequency, route
-- and discontinuation reason of prescriptions. Only Rust holds the keys, so this marks the
-- tables whose values are still plain (seal_rewrites) and `clinicgraph migrate` seals them
-- before anything serves. A sealed date of birth is text.
CREATE TABLE seal_rewrites (
    target TEXT PRIMARY KEY
);
INSERT INTO seal_rewrites (target) VALUES ('patients'), ('appointments'), ('prescriptions');
ALTER TABLE patients ALTER COLUMN date_of_birth TYPE TEXT USING to_char(date_of_birth, 'YYYY-MM-DD');
-- Phones are found by exact match on a keyed hash of their digits, no longer by substring:
-- the search key loses the phone.
ALTER TABLE patients ADD COLUMN phone_index TEXT;
CREATE INDEX patients_clinic_phone_index_idx ON patients (clinic_id, phone_index)
    WHERE phone_index IS NOT NULL AND deleted_at IS NULL;
INSERT INTO search_key_rebuilds (target) VALUES ('patients') ON CONFLICT DO NOTHING;
