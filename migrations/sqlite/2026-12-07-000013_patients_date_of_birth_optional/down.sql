-- Fails while any patient has no date of birth: there is no true value to put back.
CREATE TABLE patients_new (
    id INTEGER PRIMARY KEY,
    clinic_id INTEGER NOT NULL REFERENCES clinics (id),
    primary_doctor_id INTEGER,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email TEXT NOT NULL,
    phone TEXT,
    blood_group TEXT CHECK (blood_group IN ('O_POS', 'O_NEG', 'A_POS', 'A_NEG', 'B_POS', 'B_NEG', 'AB_POS', 'AB_NEG')),
    date_of_birth DATE NOT NULL,
    internal_notes TEXT,
    -- case-folded name, email and phone, computed in Rust: SQLite's lower() folds ASCII only
    search_text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    CONSTRAINT patients_primary_doctor_fk FOREIGN KEY (primary_doctor_id, clinic_id)
        REFERENCES doctors (id, clinic_id)
);
INSERT INTO patients_new (id, clinic_id, primary_doctor_id, name, email, phone, blood_group,
    date_of_birth, internal_notes, search_text, created_at, updated_at, deleted_at)
SELECT id, clinic_id, primary_doctor_id, name, email, phone, blood_group,
    date_of_birth, internal_notes, search_text, created_at, updated_at, deleted_at
FROM patients;
DROP TABLE patients;
ALTER TABLE patients_new RENAME TO patients;
CREATE UNIQUE INDEX patients_clinic_email_live_key ON patients (clinic_id, email) WHERE deleted_at IS NULL;
CREATE INDEX patients_clinic_created_idx ON patients (clinic_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX patients_clinic_name_idx ON patients (clinic_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX patients_primary_doctor_idx ON patients (primary_doctor_id) WHERE primary_doctor_id IS NOT NULL;
CREATE UNIQUE INDEX patients_id_clinic_key ON patients (id, clinic_id);
