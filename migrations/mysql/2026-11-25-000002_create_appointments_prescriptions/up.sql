-- Lets appointments and prescriptions reference (patient, clinic), so a row can never point at
-- another clinic's patient.
ALTER TABLE patients ADD CONSTRAINT patients_id_clinic_key UNIQUE (id, clinic_id);

-- MySQL has no exclusion constraints: a booking locks the doctor's and the patient's rows
-- (`SELECT … FOR UPDATE`) before it looks for overlaps, so two bookings of one slot take turns
-- (`appointment/repository/booking.rs`, `db::RowLocks`).
CREATE TABLE appointments (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    clinic_id BIGINT NOT NULL,
    patient_id BIGINT NOT NULL,
    doctor_id BIGINT NOT NULL,
    scheduled_at DATETIME(6) NOT NULL,
    ends_at DATETIME(6) NOT NULL,
    duration_minutes INT NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    status VARCHAR(16) NOT NULL CHECK (status IN ('SCHEDULED', 'CONFIRMED', 'CHECKED_IN', 'COMPLETED', 'CANCELLED', 'NO_SHOW')),
    reason TEXT,
    notes TEXT,
    cancellation_reason TEXT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    CONSTRAINT appointments_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id),
    UNIQUE KEY appointments_id_clinic_key (id, clinic_id),
    CONSTRAINT appointments_patient_fk FOREIGN KEY (patient_id, clinic_id) REFERENCES patients (id, clinic_id),
    CONSTRAINT appointments_doctor_fk FOREIGN KEY (doctor_id, clinic_id) REFERENCES doctors (id, clinic_id),
    CONSTRAINT appointments_ends_after_start CHECK (ends_at > scheduled_at),
    KEY appointments_patient_idx (patient_id, scheduled_at, id),
    KEY appointments_doctor_idx (doctor_id, scheduled_at, id),
    KEY appointments_clinic_idx (clinic_id, scheduled_at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE prescriptions (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    clinic_id BIGINT NOT NULL,
    patient_id BIGINT NOT NULL,
    prescriber_id BIGINT NOT NULL,
    appointment_id BIGINT,
    medication VARCHAR(200) NOT NULL,
    dosage VARCHAR(200) NOT NULL,
    frequency VARCHAR(200) NOT NULL,
    route VARCHAR(100) NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE,
    refills INT NOT NULL CHECK (refills BETWEEN 0 AND 12),
    status VARCHAR(16) NOT NULL CHECK (status IN ('ACTIVE', 'COMPLETED', 'DISCONTINUED')),
    discontinued_reason TEXT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    CONSTRAINT prescriptions_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id),
    CONSTRAINT prescriptions_patient_fk FOREIGN KEY (patient_id, clinic_id) REFERENCES patients (id, clinic_id),
    CONSTRAINT prescriptions_prescriber_fk FOREIGN KEY (prescriber_id, clinic_id) REFERENCES doctors (id, clinic_id),
    CONSTRAINT prescriptions_appointment_fk FOREIGN KEY (appointment_id, clinic_id) REFERENCES appointments (id, clinic_id),
    CONSTRAINT prescriptions_dates_check CHECK (end_date IS NULL OR end_date >= start_date),
    KEY prescriptions_patient_idx (patient_id, created_at, id),
    KEY prescriptions_prescriber_idx (prescriber_id, created_at, id),
    KEY prescriptions_appointment_idx (appointment_id),
    KEY prescriptions_clinic_idx (clinic_id, created_at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Case-folded name, email and specialty for the doctors' search (computed in Rust on write).
ALTER TABLE doctors ADD COLUMN search_text TEXT NOT NULL;
CREATE INDEX doctors_clinic_name_idx ON doctors (clinic_id, name, id);
