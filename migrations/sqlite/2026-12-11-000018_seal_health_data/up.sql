-- Health data is stored sealed (src/core/sealing): phone, date of birth and internal notes of
-- patients; reason, notes and cancellation reason of appointments; dosage, frequency, route
-- and discontinuation reason of prescriptions. Only Rust holds the keys, so this marks the
-- tables whose values are still plain (seal_rewrites) and `clinicgraph migrate` seals them
-- before anything serves. The date of birth keeps its declared type: its NUMERIC affinity
-- stores a sealed value ("cg1.…", never a number) as the text it is.
CREATE TABLE seal_rewrites (
    target TEXT PRIMARY KEY
);
INSERT INTO seal_rewrites (target) VALUES ('patients'), ('appointments'), ('prescriptions');
-- Phones are found by exact match on a keyed hash of their digits, no longer by substring:
-- the search key loses the phone.
ALTER TABLE patients ADD COLUMN phone_index TEXT;
CREATE INDEX patients_clinic_phone_index_idx ON patients (clinic_id, phone_index)
    WHERE phone_index IS NOT NULL AND deleted_at IS NULL;
INSERT OR IGNORE INTO search_key_rebuilds (target) VALUES ('patients');
