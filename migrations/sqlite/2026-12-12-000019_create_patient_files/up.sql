-- Patients' photos and documents. The bytes are in the file store (FILES_DIR or FILES_URL)
-- under object_key, a generated clinic/patient/uuid; this row says what they are and where
-- processing stands. name is the name the uploader gave, sealed like other free text.
CREATE TABLE patient_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    clinic_id INTEGER NOT NULL REFERENCES clinics (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL CHECK (kind IN ('PHOTO', 'DOCUMENT')),
    -- AWAITING_UPLOAD until completeUpload (or the multipart request) hands it to processing.
    status TEXT NOT NULL CHECK (status IN ('AWAITING_UPLOAD', 'PENDING', 'READY', 'REJECTED')),
    name TEXT NOT NULL,
    -- As declared until processing; then what the contents turned out to be.
    content_type TEXT NOT NULL,
    byte_size INTEGER NOT NULL,
    -- Pixels of an image; a PDF's first page in points.
    width INTEGER,
    height INTEGER,
    pages INTEGER,
    object_key TEXT NOT NULL UNIQUE,
    reason TEXT,
    uploaded_by INTEGER NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    -- Erased from the store by purgePatientFiles; the row stays for the audit trail.
    purged_at TIMESTAMP
);
-- A patient's files of one kind, newest first; a clinic's files for its quota.
CREATE INDEX patient_files_patient ON patient_files (clinic_id, patient_id, kind, id);
