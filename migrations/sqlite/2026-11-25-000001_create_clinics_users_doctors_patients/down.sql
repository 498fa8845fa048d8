DROP TABLE patients;
DROP TABLE doctors;
DROP TABLE users;
DROP TABLE clinics;
