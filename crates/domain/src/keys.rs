//! API keys: format (`pp_dev_`/`pp_prod_` + 43 base62 characters + a 6-character base62
//! CRC32 checksum), keyed hashing, display hint, roll grace, and usage aggregation maths.

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
use portal_types::{Environment, Granularity, UsagePoint};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Base62 digits of 32 random bytes (62^43 > 2^256).
const BODY_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
/// Characters of the random body shown in the hint.
const HINT_CHARS: usize = 4;
/// The longest grace period of a roll.
pub const MAX_GRACE_SECONDS: u64 = 7 * 24 * 3600;

pub fn prefix(env: Environment) -> &'static str {
    match env {
        Environment::Development => "pp_dev_",
        Environment::Production => "pp_prod_",
    }
}

/// Big-endian bytes to exactly `len` base62 digits (left-padded with '0').
fn base62(bytes: &[u8], len: usize) -> String {
    let mut digits = bytes.to_vec();
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let mut rem = 0u32;
        for d in digits.iter_mut() {
            let acc = (rem << 8) | u32::from(*d);
            *d = (acc / 62) as u8;
            rem = acc % 62;
        }
        out.push(BASE62[rem as usize]);
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// CRC-32 (IEEE 802.3), bitwise: keys are short.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn checksum(head: &str) -> String {
    base62(&crc32(head.as_bytes()).to_be_bytes(), CHECKSUM_LEN)
}

/// A new secret for `env`.
pub fn generate(env: Environment) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    let head = format!("{}{}", prefix(env), base62(&bytes, BODY_LEN));
    let sum = checksum(&head);
    head + &sum
}

/// Why a presented key was rejected before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormatError {
    Malformed,
    BadChecksum,
}

/// A key that is well-formed and carries a correct checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    pub environment: Environment,
    pub secret: &'a str,
}

/// Checks a presented key's shape and checksum: no database work for garbage.
pub fn parse(secret: &str) -> Result<ParsedKey<'_>, KeyFormatError> {
    let (environment, rest) = if let Some(rest) = secret.strip_prefix("pp_prod_") {
        (Environment::Production, rest)
    } else if let Some(rest) = secret.strip_prefix("pp_dev_") {
        (Environment::Development, rest)
    } else {
        return Err(KeyFormatError::Malformed);
    };
    if rest.len() != BODY_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(KeyFormatError::Malformed);
    }
    let (head, sum) = secret.split_at(secret.len() - CHECKSUM_LEN);
    if checksum(head) != sum {
        return Err(KeyFormatError::BadChecksum);
    }
    Ok(ParsedKey { environment, secret })
}

/// Whether a bearer token looks like an API key (rather than a session JWT).
pub fn looks_like_key(token: &str) -> bool {
    token.starts_with("pp_")
}

/// The stored form: keyed BLAKE3 (the server's secret as key), hex.
pub fn hash(key: &[u8; 32], secret: &str) -> String {
    blake3::keyed_hash(key, secret.as_bytes()).to_hex().to_string()
}

/// Derives the 32-byte hashing key from the configured secret text.
pub fn hashing_key(server_secret: &str) -> [u8; 32] {
    blake3::derive_key("partner-portal 2026 api key hashing", server_secret.as_bytes())
}

/// The part shown in lists: prefix and the first characters of the random body.
pub fn hint(secret: &str) -> String {
    let (env_prefix, body) = if let Some(b) = secret.strip_prefix("pp_prod_") {
        ("pp_prod_", b)
    } else {
        ("pp_dev_", secret.strip_prefix("pp_dev_").unwrap_or(""))
    };
    format!("{env_prefix}{}", body.get(..HINT_CHARS).unwrap_or(""))
}

/// When a rolled key stops: after the grace period, never past its own expiry.
pub fn grace_until(
    now: DateTime<Utc>,
    grace_seconds: u64,
    expires_at: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, crate::FieldError> {
    if grace_seconds > MAX_GRACE_SECONDS {
        return Err(crate::FieldError::new("grace_period_seconds", "must be at most 604800 (7 days)"));
    }
    let until = now + Duration::seconds(grace_seconds as i64);
    Ok(expires_at.map_or(until, |e| until.min(e)))
}

/// The longest range of a usage query.
pub const MAX_USAGE_DAYS: i64 = 90;

fn step(g: Granularity) -> TimeDelta {
    match g {
        Granularity::Hour => TimeDelta::hours(1),
        Granularity::Day => TimeDelta::days(1),
    }
}

/// The start of the bucket holding `t`.
pub fn bucket_start(t: DateTime<Utc>, g: Granularity) -> DateTime<Utc> {
    t.duration_trunc(step(g)).unwrap_or(t)
}

/// The start of the minute holding `t` (the unit of stored counts).
pub fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

/// The start of the calendar month (UTC) holding `t`, and of the next one.
pub fn month_bounds(t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    use chrono::Datelike;
    let start = |y: i32, m: u32| {
        chrono::NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|n| n.and_utc()).unwrap_or(t)
    };
    let (y, m) = (t.year(), t.month());
    let next = if m == 12 { start(y + 1, 1) } else { start(y, m + 1) };
    (start(y, m), next)
}

/// Sums per-minute counts `(minute, status, count)` into every bucket of `[from, to)`.
pub fn series(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    g: Granularity,
    rows: impl IntoIterator<Item = (DateTime<Utc>, u16, u64)>,
) -> Vec<UsagePoint> {
    let first = bucket_start(from, g);
    let mut points = Vec::new();
    let mut t = first;
    while t < to {
        points.push(UsagePoint { start: t, success: 0, error: 0 });
        t += step(g);
    }
    let width = step(g).num_seconds();
    for (minute, status, count) in rows {
        if minute < first || minute >= to {
            continue;
        }
        let idx = ((minute - first).num_seconds() / width) as usize;
        if let Some(p) = points.get_mut(idx) {
            if status >= 400 {
                p.error += count;
            } else {
                p.success += count;
            }
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_carry_their_environment() {
        for env in [Environment::Development, Environment::Production] {
            let key = generate(env);
            assert!(key.starts_with(prefix(env)));
            assert_eq!(key.len(), prefix(env).len() + 49);
            let parsed = parse(&key).unwrap();
            assert_eq!(parsed.environment, env);
            assert_eq!(hint(&key).len(), prefix(env).len() + 4);
            assert!(key.starts_with(&hint(&key)));
        }
        assert_ne!(generate(Environment::Production), generate(Environment::Production));
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let key = generate(Environment::Production);
        let mut bytes = key.clone().into_bytes();
        let i = 12;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(parse(&tampered), Err(KeyFormatError::BadChecksum));
        for bad in ["", "pp_prod_", "pp_test_abc", "sk_live_abc", &format!("{key}x"), &key.replace('A', "-")] {
            if bad != key {
                assert!(parse(bad).is_err(), "{bad}");
            }
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn keyed_hash_depends_on_the_server_secret() {
        let key = generate(Environment::Development);
        let (a, b) =
            (hashing_key("secret one secret one secret one!"), hashing_key("secret two secret two secret two!"));
        assert_eq!(hash(&a, &key), hash(&a, &key));
        assert_ne!(hash(&a, &key), hash(&b, &key));
        assert!(!hash(&a, &key).contains(&key[8..20]));
    }

    #[test]
    fn grace_is_bounded_by_seven_days_and_the_expiry() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(grace_until(now, 0, None).unwrap(), now);
        assert_eq!(grace_until(now, 3600, None).unwrap(), now + Duration::hours(1));
        let soon = now + Duration::minutes(5);
        assert_eq!(grace_until(now, 3600, Some(soon)).unwrap(), soon);
        assert_eq!(grace_until(now, MAX_GRACE_SECONDS + 1, None).unwrap_err().field, "grace_period_seconds");
    }

    #[test]
    fn series_fills_every_bucket_and_splits_errors() {
        let from = DateTime::parse_from_rfc3339("2026-11-01T10:30:00Z").unwrap().to_utc();
        let to = from + Duration::hours(3);
        let rows = vec![
            (from + Duration::minutes(1), 200, 5),
            (from + Duration::minutes(2), 404, 2),
            (from + Duration::minutes(95), 500, 1),
            (to + Duration::minutes(1), 200, 100),
        ];
        let s = series(from, to, Granularity::Hour, rows);
        assert_eq!(s.len(), 4, "10:00, 11:00, 12:00, 13:00");
        assert_eq!((s[0].success, s[0].error), (5, 2));
        assert_eq!((s[1].success, s[1].error), (0, 0));
        assert_eq!((s[2].success, s[2].error), (0, 1));
        assert_eq!(series(from, from + Duration::days(2), Granularity::Day, vec![]).len(), 3);
    }

    #[test]
    fn months_start_on_the_first() {
        let t = DateTime::parse_from_rfc3339("2026-12-15T08:00:00Z").unwrap().to_utc();
        let (start, next) = month_bounds(t);
        assert_eq!(start.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(next.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }
}
