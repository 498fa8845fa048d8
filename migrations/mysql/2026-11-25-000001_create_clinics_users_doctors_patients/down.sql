ALTER TABLE users DROP FOREIGN KEY users_patient_fk;
DROP TABLE patients;
DROP TABLE doctors;
DROP TABLE users;
DROP TABLE clinics;
