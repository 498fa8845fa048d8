-- The date of birth is optional in the seed's contract.
ALTER TABLE patients MODIFY COLUMN date_of_birth DATE NULL;
