//! Cursor pagination: `limit` and an opaque `cursor` in, `next_cursor` out.

use base64::Engine as _;
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
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
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

pub fn encode_position(at: DateTime<Utc>, id: Uuid) -> String {
    // Nanoseconds: the exact stored value, so the next page starts exactly after this row.
    let nanos = at.timestamp_nanos_opt().unwrap_or(i64::MAX);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{nanos}|{id}"))
}

fn decode_position(cursor: &str) -> ApiResult<(DateTime<Utc>, Uuid)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_cursor())?;
    let (nanos, id) = text.split_once('|').ok_or_else(bad_cursor)?;
    let at = nanos.parse::<i64>().map(DateTime::from_timestamp_nanos).map_err(|_| bad_cursor())?;
    Ok((at, id.parse().map_err(|_| bad_cursor())?))
}

pub fn encode_id(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.to_string())
}

pub fn decode_id(cursor: &str) -> ApiResult<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
    String::from_utf8(bytes).ok().and_then(|s| s.parse().ok()).ok_or_else(bad_cursor)
}

/// `next_cursor` for a page that was asked for with `limit`: present only when it is full.
pub fn next_cursor<T>(items: &[T], limit: u64, position: impl Fn(&T) -> String) -> Option<String> {
    (items.len() as u64 == limit).then(|| items.last().map(position)).flatten()
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
        for bad in ["!!", "bm9wZQ", ""] {
            let q = PageQuery { limit: None, cursor: Some(bad.into()) };
            assert_eq!(q.after().unwrap_err().field.as_deref(), Some("cursor"), "{bad}");
        }
        for bad in ["0", "101", "ten", "-1"] {
            let q = PageQuery { limit: Some(bad.into()), cursor: None };
            assert_eq!(q.limit().unwrap_err().field.as_deref(), Some("limit"), "{bad}");
        }
        assert_eq!(decode_id(&encode_id(42)).unwrap(), 42);
    }
}
