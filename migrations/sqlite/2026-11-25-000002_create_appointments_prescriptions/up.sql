-- Lets appointments and prescriptions reference (patient, clinic), so a row can never point at
-- another clinic's patient.
CREATE UNIQUE INDEX patients_id_clinic_key ON patients (id, clinic_id);

-- SQLite has no exclusion constraints: overlapping bookings are refused by the check that runs
-- inside the booking's write transaction (BEGIN IMMEDIATE serialises writers).
CREATE TABLE appointments (
    id INTEGER PRIMARY KEY,
    clinic_id INTEGER NOT NULL REFERENCES clinics (id),
    patient_id INTEGER NOT NULL,
    doctor_id INTEGER NOT NULL,
    scheduled_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    status TEXT NOT NULL CHECK (status IN ('SCHEDULED', 'CONFIRMED', 'CHECKED_IN', 'COMPLETED', 'CANCELLED', 'NO_SHOW')),
    reason TEXT,
    notes TEXT,
    cancellation_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT appointments_id_clinic_key UNIQUE (id, clinic_id),
    CONSTRAINT appointments_patient_fk FOREIGN KEY (patient_id, clinic_id) REFERENCES patients (id, clinic_id),
    CONSTRAINT appointments_doctor_fk FOREIGN KEY (doctor_id, clinic_id) REFERENCES doctors (id, clinic_id),
    CONSTRAINT appointments_ends_after_start CHECK (ends_at > scheduled_at)
);
CREATE INDEX appointments_patient_idx ON appointments (patient_id, scheduled_at, id);
CREATE INDEX appointments_doctor_idx ON appointments (doctor_id, scheduled_at, id);
CREATE INDEX appointments_clinic_idx ON appointments (clinic_id, scheduled_at, id);

CREATE TABLE prescriptions (
    id INTEGER PRIMARY KEY,
    clinic_id INTEGER NOT NULL REFERENCES clinics (id),
    patient_id INTEGER NOT NULL,
    prescriber_id INTEGER NOT NULL,
    appointment_id INTEGER,
    medication TEXT NOT NULL,
    dosage TEXT NOT NULL,
    frequency TEXT NOT NULL,
    route TEXT NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE,
    refills INTEGER NOT NULL CHECK (refills BETWEEN 0 AND 12),
    status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'COMPLETED', 'DISCONTINUED')),
    discontinued_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT prescriptions_patient_fk FOREIGN KEY (patient_id, clinic_id) REFERENCES patients (id, clinic_id),
    CONSTRAINT prescriptions_prescriber_fk FOREIGN KEY (prescriber_id, clinic_id) REFERENCES doctors (id, clinic_id),
    CONSTRAINT prescriptions_appointment_fk FOREIGN KEY (appointment_id, clinic_id) REFERENCES appointments (id, clinic_id),
    CONSTRAINT prescriptions_dates_check CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX prescriptions_patient_idx ON prescriptions (patient_id, created_at, id);
CREATE INDEX prescriptions_prescriber_idx ON prescriptions (prescriber_id, created_at, id);
CREATE INDEX prescriptions_appointment_idx ON prescriptions (appointment_id) WHERE appointment_id IS NOT NULL;
CREATE INDEX prescriptions_clinic_idx ON prescriptions (clinic_id, created_at, id);

-- Case-folded name, email and specialty for the doctors' search (computed in Rust on write).
ALTER TABLE doctors ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE doctors SET search_text = lower(name || ' ' || coalesce(email, '') || ' ' || specialty);
CREATE INDEX doctors_clinic_name_idx ON doctors (clinic_id, name, id);
