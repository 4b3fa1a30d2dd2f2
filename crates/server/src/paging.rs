//! Cursor pagination: `limit` and an opaque `cursor` in, `next_cursor` out.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 100;

/// `?limit=&cursor=` as given; parsed with errors that name the parameter.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> ApiResult<u64> {
        match self.limit.as_deref() {
            None => Ok(DEFAULT_LIMIT),
            // `2.0` is the integer 2, as JSON Schema reads it.
            Some(raw) => match raw.parse::<u64>().ok().or_else(|| {
                raw.parse::<f64>().ok().filter(|f| f.fract() == 0.0 && (0.0..=1e6).contains(f)).map(|f| f as u64)
            }) {
                Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(ApiError::validation("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))),
            },
        }
    }

    /// The position after which the page starts: (time, id).
    pub fn after(&self) -> ApiResult<Option<(DateTime<Utc>, Uuid)>> {
        self.cursor.as_deref().map(decode_position).transpose()
    }
}

fn bad_cursor() -> ApiError {
    ApiError::validation("cursor", "is not a cursor from a previous page")
}

/// The shape of every cursor, as stated in the OpenAPI document: 16 hex digits of a
/// non-negative 64-bit number, and for lists ordered by time the 32 hex digits of an id. Any
/// cursor of this shape names a position, so a well-formed cursor is never refused.
pub const CURSOR_PATTERN: &str = "^[0-7][0-9a-f]{15}([0-9a-f]{32})?$";

pub fn encode_position(at: DateTime<Utc>, id: Uuid) -> String {
    // Nanoseconds: the exact stored value, so the next page starts exactly after this row.
    let nanos = at.timestamp_nanos_opt().unwrap_or(i64::MAX).max(0);
    format!("{nanos:016x}{}", id.simple())
}

/// The number at the start of a cursor, and the rest.
fn split_cursor(cursor: &str) -> ApiResult<(i64, &str)> {
    let ok = matches!(cursor.len(), 16 | 48)
        && cursor.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && cursor.as_bytes()[0] <= b'7';
    if !ok {
        return Err(bad_cursor());
    }
    let n = i64::from_str_radix(&cursor[..16], 16).map_err(|_| bad_cursor())?;
    Ok((n, &cursor[16..]))
}

pub fn decode_position(cursor: &str) -> ApiResult<(DateTime<Utc>, Uuid)> {
    let (nanos, rest) = split_cursor(cursor)?;
    let id = if rest.is_empty() { Uuid::nil() } else { Uuid::try_parse(rest).map_err(|_| bad_cursor())? };
    Ok((DateTime::from_timestamp_nanos(nanos), id))
}

pub fn encode_id(id: i64) -> String {
    format!("{:016x}", id.max(0))
}

pub fn decode_id(cursor: &str) -> ApiResult<i64> {
    split_cursor(cursor).map(|(id, _)| id)
}

/// A position in a list ordered by a count: the count, then the id.
pub fn encode_count_position(count: i64, id: Uuid) -> String {
    format!("{:016x}{}", count.max(0), id.simple())
}

pub fn decode_count_position(cursor: &str) -> ApiResult<(i64, Uuid)> {
    let (count, rest) = split_cursor(cursor)?;
    let id = if rest.is_empty() { Uuid::nil() } else { Uuid::try_parse(rest).map_err(|_| bad_cursor())? };
    Ok((count, id))
}

/// How many rows to read for a page of `limit`: one more, which shows that a next page exists.
pub fn rows_for(limit: u64) -> u64 {
    limit + 1
}

/// Cuts rows read with [`rows_for`] to the page, and gives its `next_cursor`: present only when
/// more rows follow, so a list of exactly `limit` items ends on its first page.
pub fn next_cursor<T>(rows: &mut Vec<T>, limit: u64, position: impl Fn(&T) -> String) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_garbage_names_the_parameter() {
        let at = DateTime::from_timestamp_nanos(1_700_000_000_123_456_789);
        let id = Uuid::new_v4();
        let q = PageQuery { limit: Some("10".into()), cursor: Some(encode_position(at, id)) };
        assert_eq!(q.after().unwrap(), Some((at, id)));
        assert_eq!(q.limit().unwrap(), 10);
        let pattern = regex::Regex::new(CURSOR_PATTERN).unwrap();
        assert!(pattern.is_match(&encode_position(at, id)) && pattern.is_match(&encode_id(42)));
        for shaped in ["0000000000000000", "7fffffffffffffffffffffffffffffffffffffffffffffff"] {
            let q = PageQuery { limit: None, cursor: Some(shaped.into()) };
            assert!(pattern.is_match(shaped) && q.after().is_ok() && decode_id(shaped).is_ok(), "{shaped}");
        }
        for bad in ["!!", "bm9wZQ", "", "8000000000000000", "00000000000000000", "ABCDEF0000000000"] {
            assert!(!pattern.is_match(bad));
            let q = PageQuery { limit: None, cursor: Some(bad.into()) };
            assert_eq!(q.after().unwrap_err().field.as_deref(), Some("cursor"), "{bad}");
        }
        for (written, n) in [("2.0", 2), ("1e1", 10)] {
            let q = PageQuery { limit: Some(written.into()), cursor: None };
            assert_eq!(q.limit().unwrap(), n);
        }
        for bad in ["0", "101", "ten", "-1", "2.5", "NaN", "inf"] {
            let q = PageQuery { limit: Some(bad.into()), cursor: None };
            assert_eq!(q.limit().unwrap_err().field.as_deref(), Some("limit"), "{bad}");
        }
        assert_eq!(decode_id(&encode_id(42)).unwrap(), 42);
        assert_eq!(decode_count_position(&encode_count_position(7, id)).unwrap(), (7, id));
        assert!(pattern.is_match(&encode_count_position(i64::MAX, id)));
    }
}
