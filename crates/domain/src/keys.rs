//! API keys: format (`pp_dev_`/`pp_prod_` + 43 base62 characters + a 6-character base62
//! CRC32 checksum), keyed hashing, display hint, roll grace, and the bounds of their limits.

use chrono::{DateTime, Duration, Utc};
use portal_types::{Environment, KeyStatus, RateLimit};

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

/// CRC-32 (IEEE 802.3) lookup table, built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3), a byte at a time: it runs on every presented key.
pub fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(0xFFFF_FFFFu32, |crc, &b| (crc >> 8) ^ CRC_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize])
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

/// The most requests per second, or in a burst, a rate limit may allow.
pub const MAX_RATE: u32 = 100_000;

/// A rate limit as asked for: both numbers between 1 and [`MAX_RATE`].
pub fn parse_rate_limit(field: &'static str, rate: RateLimit) -> Result<RateLimit, crate::FieldError> {
    for value in [rate.requests_per_second, rate.burst] {
        if !(1..=MAX_RATE).contains(&value) {
            return Err(crate::FieldError::new(
                field,
                format!("requests_per_second and burst must be 1 to {MAX_RATE}"),
            ));
        }
    }
    Ok(rate)
}

/// A monthly usage limit as asked for: at least 1, and storable.
pub fn parse_usage_limit(limit: u64) -> Result<u64, crate::FieldError> {
    match limit {
        0 => Err(crate::FieldError::new("usage_limit", "must be at least 1 (leave it out for no limit)")),
        n if i64::try_from(n).is_err() => Err(crate::FieldError::new("usage_limit", "is too large")),
        n => Ok(n),
    }
}

/// The state of a key at `now`: the one place a key's status is worked out (the database's
/// status filters say the same in SQL).
pub fn status_of(
    row_revoked: Option<DateTime<Utc>>,
    expires: Option<DateTime<Utc>>,
    grace: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> KeyStatus {
    if row_revoked.is_some() {
        KeyStatus::Revoked
    } else if expires.is_some_and(|e| e <= now) {
        KeyStatus::Expired
    } else if let Some(g) = grace {
        if g <= now { KeyStatus::Rolled } else { KeyStatus::Rolling }
    } else {
        KeyStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keys_status_follows_revocation_then_expiry_then_grace() {
        let now = Utc::now();
        let (past, future) = (Some(now - Duration::seconds(1)), Some(now + Duration::seconds(60)));
        assert_eq!(status_of(past, future, None, now), KeyStatus::Revoked);
        assert_eq!(status_of(None, past, future, now), KeyStatus::Expired);
        assert_eq!(status_of(None, Some(now), None, now), KeyStatus::Expired, "expired at the instant");
        assert_eq!(status_of(None, future, future, now), KeyStatus::Rolling);
        assert_eq!(status_of(None, future, past, now), KeyStatus::Rolled);
        assert_eq!(status_of(None, None, None, now), KeyStatus::Active);
    }

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
    fn rate_limits_and_usage_limits_are_bounded() {
        let ok = RateLimit { requests_per_second: 10, burst: 20 };
        assert_eq!(parse_rate_limit("rate_limit", ok), Ok(ok));
        for bad in
            [RateLimit { requests_per_second: 0, burst: 1 }, RateLimit { requests_per_second: 1, burst: MAX_RATE + 1 }]
        {
            assert_eq!(parse_rate_limit("rate_limit", bad).unwrap_err().field, "rate_limit");
        }
        assert_eq!(parse_usage_limit(5), Ok(5));
        assert!(parse_usage_limit(0).is_err());
        assert!(parse_usage_limit(u64::MAX).is_err());
    }
}
