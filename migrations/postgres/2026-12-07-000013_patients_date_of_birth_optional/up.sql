-- The date of birth is optional in the seed's contract. The phone, required for new patients,
-- stays nullable here: records created while it was optional may have none, and no value
-- could honestly be filled in for them.
ALTER TABLE patients ALTER COLUMN date_of_birth DROP NOT NULL;
