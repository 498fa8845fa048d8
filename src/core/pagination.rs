//! Relay-style keyset pagination: argument rules, opaque cursors and page assembly.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{AppError, AppResult, FieldViolation};

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// Which way a page is read from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `first` / `after`
    Forward,
    /// `last` / `before`
    Backward,
}

/// A validated page request. `K` is the cursor's key (the sort value and the id).
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<K> {
    pub limit: usize,
    pub direction: Direction,
    pub cursor: Option<K>,
}

/// The raw Relay arguments as the client sent them.
#[derive(Debug, Default, Clone)]
pub struct ConnectionArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl ConnectionArgs {
    /// Checks the Relay arguments: sizes 0..=100 (never silently cut), one direction at a time,
    /// cursors that decode.
    pub fn parse<K: DeserializeOwned>(self) -> AppResult<PageRequest<K>> {
        let mut problems = Vec::new();
        let forward = self.first.is_some() || self.after.is_some();
        let backward = self.last.is_some() || self.before.is_some();
        if forward && backward {
            problems.push(FieldViolation::new(
                "last",
                "use first/after or last/before, not both",
            ));
        }
        let size = |field: &str, value: Option<i32>, problems: &mut Vec<FieldViolation>| match value
        {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n < 0 => {
                problems.push(FieldViolation::new(field, "must not be negative"));
                0
            }
            Some(n) if n as usize > MAX_PAGE_SIZE => {
                problems.push(FieldViolation::new(
                    field,
                    format!("must be at most {MAX_PAGE_SIZE}"),
                ));
                0
            }
            Some(n) => n as usize,
        };
        let (direction, limit, cursor_field, raw_cursor) = if backward {
            let limit = size("last", self.last, &mut problems);
            (Direction::Backward, limit, "before", self.before)
        } else {
            let limit = size("first", self.first, &mut problems);
            (Direction::Forward, limit, "after", self.after)
        };
        let cursor = match raw_cursor.as_deref().map(decode_cursor) {
            None => None,
            Some(Some(key)) => Some(key),
            Some(None) => {
                problems.push(FieldViolation::new(
                    cursor_field,
                    "is not a cursor of this list and order",
                ));
                None
            }
        };
        if problems.is_empty() {
            Ok(PageRequest {
                limit,
                direction,
                cursor,
            })
        } else {
            Err(AppError::Validation(problems))
        }
    }
}

impl ConnectionArgs {
    /// Like [`ConnectionArgs::parse`], for lists ordered by a time: the cursor must carry one.
    pub fn parse_timed(self) -> AppResult<PageRequest<KeyCursor>> {
        let cursor_field = if self.before.is_some() {
            "before"
        } else {
            "after"
        };
        let request = self.parse::<KeyCursor>()?;
        if request.cursor.as_ref().is_some_and(|c| c.time().is_none()) {
            return Err(AppError::invalid(
                cursor_field,
                "is not a cursor of this list",
            ));
        }
        Ok(request)
    }
}

/// Encodes a cursor key as an opaque string.
pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    // Serialising plain keys (numbers and strings) cannot fail.
    let json = serde_json::to_vec(key).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Option<K> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// One page of results in display order, with Relay's page info.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched in traversal order with `limit + 1` as the SQL limit: the
    /// extra row only tells whether more exist beyond the page.
    pub fn from_rows<K>(mut rows: Vec<T>, request: &PageRequest<K>) -> Self {
        let has_more = rows.len() > request.limit;
        rows.truncate(request.limit);
        let came_from_cursor = request.cursor.is_some();
        match request.direction {
            Direction::Forward => Page {
                items: rows,
                has_next_page: has_more,
                has_previous_page: came_from_cursor,
            },
            Direction::Backward => {
                rows.reverse();
                Page {
                    items: rows,
                    has_next_page: came_from_cursor,
                    has_previous_page: has_more,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(first: Option<i32>, last: Option<i32>) -> ConnectionArgs {
        ConnectionArgs {
            first,
            last,
            ..Default::default()
        }
    }

    #[test]
    fn defaults_to_twenty_forward() {
        let page: PageRequest<i64> = args(None, None).parse().expect("valid");
        assert_eq!(page.limit, DEFAULT_PAGE_SIZE);
        assert_eq!(page.direction, Direction::Forward);
    }

    #[test]
    fn more_than_the_cap_is_an_error_not_a_cut() {
        let err = args(Some(101), None).parse::<i64>().unwrap_err();
        assert!(matches!(err, AppError::Validation(ref f) if f[0].field == "first"));
        assert!(args(Some(100), None).parse::<i64>().is_ok());
    }

    #[test]
    fn mixing_directions_is_an_error() {
        assert!(args(Some(1), Some(1)).parse::<i64>().is_err());
    }

    #[test]
    fn a_foreign_cursor_is_an_error() {
        let request = ConnectionArgs {
            after: Some("not-a-cursor".into()),
            ..Default::default()
        };
        assert!(request.parse::<(String, i64)>().is_err());
    }

    #[test]
    fn backward_pages_come_back_in_display_order() {
        let request = PageRequest {
            limit: 2,
            direction: Direction::Backward,
            cursor: Some(10_i64),
        };
        let page = Page::from_rows(vec![9, 8, 7], &request);
        assert_eq!(page.items, vec![8, 9]);
        assert!(page.has_previous_page);
        assert!(page.has_next_page);
    }
}

/// A cursor for lists with one fixed order: the sort value as text and the id breaking ties.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyCursor {
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "i")]
    pub id: i64,
}

const CURSOR_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

impl KeyCursor {
    pub fn at(time: chrono::NaiveDateTime, id: i64) -> KeyCursor {
        KeyCursor {
            key: time.format(CURSOR_TIME_FORMAT).to_string(),
            id,
        }
    }

    /// The sort value of a time-ordered list; `None` if the cursor came from another list.
    pub fn time(&self) -> Option<chrono::NaiveDateTime> {
        chrono::NaiveDateTime::parse_from_str(&self.key, CURSOR_TIME_FORMAT).ok()
    }
}
