-- Patients' photos and documents. The bytes are in the file store (FILES_DIR or FILES_URL)
-- under object_key, a generated clinic/patient/uuid; this row says what they are and where
-- processing stands. name is the name the uploader gave, sealed like other free text.
CREATE TABLE patient_files (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    clinic_id BIGINT NOT NULL,
    patient_id BIGINT NOT NULL,
    kind VARCHAR(16) NOT NULL CHECK (kind IN ('PHOTO', 'DOCUMENT')),
    -- AWAITING_UPLOAD until completeUpload (or the multipart request) hands it to processing.
    status VARCHAR(16) NOT NULL
        CHECK (status IN ('AWAITING_UPLOAD', 'PENDING', 'READY', 'REJECTED')),
    name TEXT NOT NULL,
    -- As declared until processing; then what the contents turned out to be.
    content_type VARCHAR(255) NOT NULL,
    byte_size BIGINT NOT NULL,
    -- Pixels of an image; a PDF's first page in points.
    width INT,
    height INT,
    pages INT,
    object_key VARCHAR(255) NOT NULL,
    reason TEXT,
    uploaded_by BIGINT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    -- Erased from the store by purgePatientFiles; the row stays for the audit trail.
    purged_at DATETIME(6),
    CONSTRAINT patient_files_clinic_fk FOREIGN KEY (clinic_id) REFERENCES clinics (id),
    CONSTRAINT patient_files_patient_fk FOREIGN KEY (patient_id) REFERENCES patients (id),
    CONSTRAINT patient_files_user_fk FOREIGN KEY (uploaded_by) REFERENCES users (id),
    UNIQUE KEY patient_files_object (object_key),
    -- A patient's files of one kind, newest first; a clinic's files for its quota.
    KEY patient_files_patient (clinic_id, patient_id, kind, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
