DROP TABLE clinic_patient_counts;
