-- Health data is stored sealed (src/core/sealing): phone, date of birth and internal notes of
-- patients; reason, notes and cancellation reason of appointments; dosage, frequency, route
-- and discontinuation reason of prescriptions. Only Rust holds the keys, so this marks the
-- tables whose values are still plain (seal_rewrites) and `clinicgraph migrate` seals them
-- before anything serves. Sealed values are longer than the plain ones: text columns.
CREATE TABLE seal_rewrites (
    target VARCHAR(64) PRIMARY KEY
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
INSERT INTO seal_rewrites (target) VALUES ('patients'), ('appointments'), ('prescriptions');
ALTER TABLE patients
    MODIFY COLUMN phone TEXT NULL,
    MODIFY COLUMN date_of_birth TEXT NULL,
    -- Phones are found by exact match on a keyed hash of their digits, no longer by
    -- substring: the search key loses the phone.
    ADD COLUMN phone_index VARCHAR(32) NULL,
    ADD INDEX patients_clinic_phone_index_idx (clinic_id, phone_index);
ALTER TABLE prescriptions
    MODIFY COLUMN dosage TEXT NOT NULL,
    MODIFY COLUMN frequency TEXT NOT NULL,
    MODIFY COLUMN route TEXT NOT NULL;
INSERT IGNORE INTO search_key_rebuilds (target) VALUES ('patients');
