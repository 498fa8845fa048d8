-- Every clinic has its counter row from its creation on (the clinic's insert writes it), so a
-- patient write only ever updates it: MySQL has no `ON CONFLICT … DO UPDATE` on a named key, and
-- an update needs none. Clinics created without patients since the counter began get theirs.
INSERT INTO clinic_patient_counts (clinic_id, live_patients)
SELECT c.id, (SELECT count(*) FROM patients p WHERE p.clinic_id = c.id AND p.deleted_at IS NULL)
FROM clinics c
WHERE NOT EXISTS (SELECT 1 FROM clinic_patient_counts k WHERE k.clinic_id = c.id);
