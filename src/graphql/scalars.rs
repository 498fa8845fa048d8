//! Scalars with the names and formats the schema promises.
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date, ISO 8601 (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected an ISO 8601 date (YYYY-MM-DD)")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    // Checked during validation too, so a bad date in variables is a request error (400).
    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok())
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
