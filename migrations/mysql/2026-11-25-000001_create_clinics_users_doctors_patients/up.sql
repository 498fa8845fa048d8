-- MySQL 8 / MariaDB 10.11. Every text column is utf8mb4 with the binary collation
-- (utf8mb4_bin, the tables' default): emails, codes and names compare exactly, as on PostgreSQL
-- and SQLite, never folded by a server default (`utf8mb4_general_ci` would make "A@x" equal
-- "a@x" and "é" equal "e" behind the code's back). Case- and accent-blind search compares the
-- search keys the code folds itself (crate::core::text::fold). Indexed text is VARCHAR (InnoDB
-- indexes no whole TEXT); times are DATETIME(6), microseconds like the other two.
CREATE TABLE clinics (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(200) NOT NULL CHECK (CHAR_LENGTH(name) BETWEEN 1 AND 200),
    timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
    address TEXT,
    phone VARCHAR(64),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE users (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    clinic_id BIGINT NOT NULL,
    email VARCHAR(320) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    name VARCHAR(200) NOT NULL,
    role VARCHAR(16) NOT NULL CHECK (role IN ('ADMIN', 'DOCTOR', 'NURSE', 'RECEPTIONIST', 'PATIENT')),
    patient_id BIGINT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    -- a PATIENT account always points at its record; staff accounts never do
    CONSTRAINT users_patient_link_check CHECK ((role = 'PATIENT') = (patient_id IS NOT NULL)),
    CONSTRAINT users_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id),
    UNIQUE KEY users_email_key (email),
    KEY users_clinic_idx (clinic_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE doctors (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    clinic_id BIGINT NOT NULL,
    user_id BIGINT,
    name VARCHAR(200) NOT NULL,
    specialty VARCHAR(200) NOT NULL,
    license_number VARCHAR(100),
    email VARCHAR(320),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    CONSTRAINT doctors_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id),
    CONSTRAINT doctors_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    UNIQUE KEY doctors_user_id_key (user_id),
    -- lets patients reference (doctor, clinic) so a primary doctor is always of the same clinic
    UNIQUE KEY doctors_id_clinic_key (id, clinic_id),
    KEY doctors_clinic_idx (clinic_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE patients (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    clinic_id BIGINT NOT NULL,
    primary_doctor_id BIGINT,
    name VARCHAR(200) NOT NULL CHECK (CHAR_LENGTH(name) BETWEEN 1 AND 200),
    email VARCHAR(320) NOT NULL,
    phone VARCHAR(64),
    blood_group VARCHAR(8) CHECK (blood_group IN ('O_POS', 'O_NEG', 'A_POS', 'A_NEG', 'B_POS', 'B_NEG', 'AB_POS', 'AB_NEG')),
    date_of_birth DATE NOT NULL,
    internal_notes TEXT,
    -- case-folded name, email and phone, computed in Rust so every database folds alike
    search_text TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    deleted_at DATETIME(6),
    -- MySQL has no partial index: the email of a live patient, NULL once deleted, so the unique
    -- key below holds among live patients only (NULLs never collide).
    live_email VARCHAR(320) AS (CASE WHEN deleted_at IS NULL THEN email END) STORED,
    CONSTRAINT patients_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id),
    CONSTRAINT patients_primary_doctor_fk FOREIGN KEY (primary_doctor_id, clinic_id)
        REFERENCES doctors (id, clinic_id),
    UNIQUE KEY patients_clinic_email_live_key (clinic_id, live_email),
    KEY patients_clinic_created_idx (clinic_id, deleted_at, created_at, id),
    KEY patients_clinic_name_idx (clinic_id, deleted_at, name, id),
    KEY patients_primary_doctor_idx (primary_doctor_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

ALTER TABLE users ADD CONSTRAINT users_patient_fk FOREIGN KEY (patient_id) REFERENCES patients (id);
