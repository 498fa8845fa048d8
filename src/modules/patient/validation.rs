//! The field rules of a patient, checked together so one answer lists every problem.
use chrono::NaiveDate;

use super::model::{BloodGroup, PatientFields};
use crate::core::error::FieldViolation;
use crate::core::text::normalize_email;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_NOTES_CHARS: usize = 10_000;
pub const PHONE_DIGITS: usize = 10;

pub use crate::core::patch::Patch;

/// A doctor reference as sent: a global id that may not even be a doctor's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DoctorRef {
    Id(i64),
    Malformed,
}

/// Client input for a create or an update, before any rule is applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatientInput {
    pub name: Patch<String>,
    pub email: Patch<String>,
    pub phone: Patch<String>,
    pub blood_group: Patch<BloodGroup>,
    pub date_of_birth: Patch<NaiveDate>,
    pub internal_notes: Patch<String>,
    pub primary_doctor: Patch<DoctorRef>,
}

impl PatientInput {
    pub fn touches_internal_notes(&self) -> bool {
        self.internal_notes != Patch::Keep
    }
}

/// Applies `input` to `current` (None on create) and checks every rule.
pub fn validate(
    current: Option<&PatientFields>,
    input: PatientInput,
    today: NaiveDate,
) -> Result<PatientFields, Vec<FieldViolation>> {
    let mut problems = Vec::new();
    let mut fail = |field: &str, message: &str| problems.push(FieldViolation::new(field, message));

    let name = match required(input.name, current.map(|c| c.name.clone())) {
        Ok(raw) => {
            let trimmed = raw.trim().to_owned();
            let chars = trimmed.chars().count();
            if chars == 0 {
                fail("name", "is required");
            } else if chars > MAX_NAME_CHARS {
                fail("name", "must be at most 200 characters");
            }
            trimmed
        }
        Err(message) => {
            fail("name", message);
            String::new()
        }
    };

    let email = match required(input.email, current.map(|c| c.email.clone())) {
        Ok(raw) => normalize_email(&raw).unwrap_or_else(|message| {
            fail("email", message);
            String::new()
        }),
        Err(message) => {
            fail("email", message);
            String::new()
        }
    };

    // Required on create; an update may change it but not clear it. A record stored before the
    // phone became required keeps having none until someone gives one, so that correcting its
    // name never demands a number nobody has at hand.
    let phone = match (input.phone, current.map(|c| c.phone.clone())) {
        (Patch::Set(raw), _) => match normalize_phone(&raw) {
            Some(digits) => Some(digits),
            None => {
                fail("phone", "must be exactly 10 digits");
                None
            }
        },
        (Patch::Keep, Some(kept)) => kept,
        (Patch::Keep, None) => {
            fail("phone", "is required");
            None
        }
        (Patch::Clear, _) => {
            fail("phone", "cannot be null");
            None
        }
    };

    let date_of_birth = optional(input.date_of_birth, current.and_then(|c| c.date_of_birth));
    if date_of_birth.is_some_and(|date| date > today) {
        fail("dateOfBirth", "must not be in the future");
    }

    let internal_notes = optional(
        input.internal_notes,
        current.and_then(|c| c.internal_notes.clone()),
    )
    .map(|notes| notes.trim().to_owned())
    .filter(|notes| !notes.is_empty());
    if internal_notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTES_CHARS)
    {
        fail("internalNotes", "must be at most 10000 characters");
    }

    let primary_doctor_id = match optional(
        input.primary_doctor,
        current.and_then(|c| c.primary_doctor_id.map(DoctorRef::Id)),
    ) {
        Some(DoctorRef::Id(id)) => Some(id),
        Some(DoctorRef::Malformed) => {
            fail("primaryDoctorId", "is not a doctor id");
            None
        }
        None => None,
    };

    let blood_group = optional(input.blood_group, current.and_then(|c| c.blood_group));

    if problems.is_empty() {
        Ok(PatientFields {
            name,
            email,
            phone,
            blood_group,
            date_of_birth,
            internal_notes,
            primary_doctor_id,
        })
    } else {
        Err(problems)
    }
}

fn required<T>(patch: Patch<T>, current: Option<T>) -> Result<T, &'static str> {
    match (patch, current) {
        (Patch::Set(value), _) => Ok(value),
        (Patch::Keep, Some(value)) => Ok(value),
        (Patch::Keep, None) => Err("is required"),
        (Patch::Clear, _) => Err("cannot be null"),
    }
}

fn optional<T>(patch: Patch<T>, current: Option<T>) -> Option<T> {
    patch.apply(current)
}

/// Accepts common separators ("555-123-4567", "(555) 123 4567"); stores the 10 digits.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let mut digits = String::with_capacity(PHONE_DIGITS);
    for c in raw.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    (digits.len() == PHONE_DIGITS).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("date")
    }

    fn complete() -> PatientInput {
        PatientInput {
            name: Patch::Set("  Zoë Adams ".into()),
            email: Patch::Set("Zoe@Example.com".into()),
            phone: Patch::Set("555-123-4567".into()),
            date_of_birth: Patch::Set(NaiveDate::from_ymd_opt(1990, 5, 17).expect("date")),
            ..Default::default()
        }
    }

    fn fields_of(problems: &[FieldViolation]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn normalises_a_valid_patient() {
        let fields = validate(None, complete(), today()).expect("valid");
        assert_eq!(fields.name, "Zoë Adams");
        assert_eq!(fields.email, "zoe@example.com");
        assert_eq!(fields.phone.as_deref(), Some("5551234567"));
    }

    #[test]
    fn reports_every_violation_at_once() {
        let input = PatientInput {
            name: Patch::Set("   ".into()),
            email: Patch::Set("not-an-email".into()),
            phone: Patch::Set("12345".into()),
            date_of_birth: Patch::Set(today().succ_opt().expect("date")),
            primary_doctor: Patch::Set(DoctorRef::Malformed),
            ..Default::default()
        };
        let problems = validate(None, input, today()).unwrap_err();
        assert_eq!(
            fields_of(&problems),
            ["name", "email", "phone", "dateOfBirth", "primaryDoctorId"]
        );
    }

    #[test]
    fn name_length_is_counted_in_characters() {
        let mut input = complete();
        input.name = Patch::Set("é".repeat(200));
        assert!(validate(None, input.clone(), today()).is_ok());
        input.name = Patch::Set("é".repeat(201));
        assert_eq!(
            fields_of(&validate(None, input, today()).unwrap_err()),
            ["name"]
        );
    }

    #[test]
    fn create_requires_name_email_and_phone_but_no_birth_date() {
        let problems = validate(None, PatientInput::default(), today()).unwrap_err();
        assert_eq!(fields_of(&problems), ["name", "email", "phone"]);
        let mut input = complete();
        input.date_of_birth = Patch::Keep;
        let fields = validate(None, input, today()).expect("valid");
        assert_eq!(fields.date_of_birth, None);
    }

    #[test]
    fn update_keeps_unsent_fields_and_refuses_null_for_required_ones() {
        let current = validate(None, complete(), today()).expect("valid");
        let patch = PatientInput {
            date_of_birth: Patch::Clear,
            ..Default::default()
        };
        let updated = validate(Some(&current), patch, today()).expect("valid");
        assert_eq!(updated.date_of_birth, None);
        assert_eq!(updated.phone, current.phone);
        assert_eq!(updated.name, current.name);

        let patch = PatientInput {
            phone: Patch::Clear,
            ..Default::default()
        };
        let problems = validate(Some(&current), patch, today()).unwrap_err();
        assert_eq!(problems, [FieldViolation::new("phone", "cannot be null")]);

        let patch = PatientInput {
            email: Patch::Clear,
            ..Default::default()
        };
        let problems = validate(Some(&current), patch, today()).unwrap_err();
        assert_eq!(problems[0], FieldViolation::new("email", "cannot be null"));
    }

    #[test]
    fn a_record_stored_without_a_phone_can_be_updated_without_one() {
        let mut current = validate(None, complete(), today()).expect("valid");
        current.phone = None;
        let patch = PatientInput {
            name: Patch::Set("Zoë Adams-Lee".into()),
            ..Default::default()
        };
        let updated = validate(Some(&current), patch, today()).expect("valid");
        assert_eq!(updated.phone, None);
    }

    #[test]
    fn phone_must_have_exactly_ten_digits() {
        for (raw, ok) in [
            ("5551234567", true),
            ("(555) 123 4567", true),
            ("555123456", false),
            ("55512345678", false),
            ("555-123-456x", false),
            ("+15551234567", false),
        ] {
            assert_eq!(normalize_phone(raw).is_some(), ok, "{raw}");
        }
    }
}
