-- Ids are INTEGER PRIMARY KEY (a rowid alias); BIGINT PRIMARY KEY would not auto-assign.
CREATE TABLE clinics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone TEXT NOT NULL DEFAULT 'UTC',
    address TEXT,
    phone TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    clinic_id INTEGER NOT NULL REFERENCES clinics (id),
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('ADMIN', 'DOCTOR', 'NURSE', 'RECEPTIONIST', 'PATIENT')),
    patient_id INTEGER REFERENCES patients (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- a PATIENT account always points at its record; staff accounts never do
    CONSTRAINT users_patient_link_check CHECK ((role = 'PATIENT') = (patient_id IS NOT NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_clinic_idx ON users (clinic_id);

CREATE TABLE doctors (
    id INTEGER PRIMARY KEY,
    clinic_id INTEGER NOT NULL REFERENCES clinics (id),
    user_id INTEGER UNIQUE REFERENCES users (id),
    name TEXT NOT NULL,
    specialty TEXT NOT NULL,
    license_number TEXT,
    email TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- lets patients reference (doctor, clinic) so a primary doctor is always of the same clinic
    CONSTRAINT doctors_id_clinic_key UNIQUE (id, clinic_id)
);
CREATE INDEX doctors_clinic_idx ON doctors (clinic_id);

CREATE TABLE patients (
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
CREATE UNIQUE INDEX patients_clinic_email_live_key ON patients (clinic_id, email) WHERE deleted_at IS NULL;
CREATE INDEX patients_clinic_created_idx ON patients (clinic_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX patients_clinic_name_idx ON patients (clinic_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX patients_primary_doctor_idx ON patients (primary_doctor_id) WHERE primary_doctor_id IS NOT NULL;
