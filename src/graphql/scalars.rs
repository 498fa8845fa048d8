//! Scalars with the names and formats the schema promises.
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, Utc};

/// An instant, written as an RFC 3339 timestamp. RFC 3339 gives years four digits, so the
/// instants a client can send lie in years 0001 to 9999; chrono alone would also read
/// `+262142-12-31T23:00:00Z`, whose arithmetic overflows and which no database stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub chrono::DateTime<Utc>);

impl From<chrono::DateTime<Utc>> for Timestamp {
    fn from(instant: chrono::DateTime<Utc>) -> Self {
        Timestamp(instant)
    }
}

impl Timestamp {
    /// The latest instant a client can name: the schema's timestamps end with year 9999.
    pub fn latest() -> chrono::DateTime<Utc> {
        NaiveDate::from_ymd_opt(9999, 12, 31)
            .and_then(|d| d.and_hms_opt(23, 59, 59))
            .expect("a valid instant")
            .and_utc()
    }

    fn read(text: &str) -> Option<Self> {
        // Four digits, then `-`: no sign, no extended year.
        let bytes = text.as_bytes();
        if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
            return None;
        }
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|instant| Timestamp(instant.with_timezone(&Utc)))
    }
}

#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
/// An instant: an RFC 3339 timestamp with a UTC offset (`2026-12-06T09:30:00Z`,
/// `2026-12-06T10:30:00+01:00`), years 0001 to 9999. Answers are in UTC
/// (`2026-12-06T09:30:00+00:00`).
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => Timestamp::read(text).ok_or_else(|| {
                InputValueError::custom(
                    "expected an RFC 3339 timestamp, years 0001 to 9999 (2026-12-06T09:30:00Z)",
                )
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    // Checked during validation too, so a bad timestamp in variables is a request error (400).
    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if Timestamp::read(text).is_some())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

/// A calendar date, ISO 8601 (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

impl Date {
    /// Exactly `YYYY-MM-DD`: chrono's `%Y` alone would also read signed and five-digit years.
    fn read(text: &str) -> Option<Self> {
        let shaped = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        shaped
            .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(Date))
            .flatten()
    }
}

#[Scalar(name = "Date")]
/// A calendar date, ISO 8601 `YYYY-MM-DD` (`2026-12-06`), years 0001 to 9999.
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => Date::read(text).ok_or_else(|| {
                InputValueError::custom(
                    "expected an ISO 8601 date, years 0001 to 9999 (YYYY-MM-DD)",
                )
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    // Checked during validation too, so a bad date in variables is a request error (400).
    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if Date::read(text).is_some())
    }

    fn to_value(&self) -> Value {
        // The same text as `format("%Y-%m-%d")`, without parsing that format for every date
        // (a twentieth of the server's work for a page of patients).
        Value::String(self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rfc_3339_and_iso_8601_shapes_are_read() {
        for text in [
            "2026-12-06T09:30:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59Z",
        ] {
            assert!(Timestamp::read(text).is_some(), "{text}");
        }
        for text in [
            "+262142-12-31T23:00:00Z",
            "-0001-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "2026-12-06",
        ] {
            assert!(Timestamp::read(text).is_none(), "{text}");
        }
        assert!(Date::read("2026-02-28").is_some());
        for text in [
            "+10000-01-01",
            "-001-01-01",
            "2026-2-28",
            "2026-02-30",
            "20260228",
        ] {
            assert!(Date::read(text).is_none(), "{text}");
        }
    }

    #[test]
    fn dates_are_written_as_iso_8601() {
        for (year, month, day, text) in [
            (1, 1, 1, "0001-01-01"),
            (999, 12, 31, "0999-12-31"),
            (1970, 1, 1, "1970-01-01"),
            (2026, 11, 26, "2026-11-26"),
            (9999, 12, 31, "9999-12-31"),
        ] {
            let date = NaiveDate::from_ymd_opt(year, month, day).expect("a valid date");
            assert_eq!(Date(date).to_value(), Value::String(text.to_owned()));
            assert_eq!(date.format("%Y-%m-%d").to_string(), text);
        }
    }
}
