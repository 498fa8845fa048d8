-- Fails while any patient has no date of birth: there is no true value to put back.
ALTER TABLE patients ALTER COLUMN date_of_birth SET NOT NULL;
