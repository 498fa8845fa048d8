DROP TABLE patient_files;
