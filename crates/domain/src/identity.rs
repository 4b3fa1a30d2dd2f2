//! Account values: e-mail address, display name, password.

use crate::FieldError;

/// An e-mail address, trimmed and lower-cased so that it compares as users expect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = portal_types::rules::EMAIL_MAX_CHARS;

    /// `portal_types::rules::EMAIL_PATTERN` states the same rule.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        if raw.chars().count() > Self::MAX_LEN {
            return Err(FieldError::new(field, format!("must be at most {} characters", Self::MAX_LEN)));
        }
        // Not trimmed: `format: email` has no white space around it, and clients trim.
        let value = raw;
        let invalid = || FieldError::new(field, "must be an e-mail address such as name@example.com");
        if value.is_empty() {
            return Err(FieldError::new(field, "is required"));
        }
        let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
        // RFC 5321 without its rarities: a dot-atom of ASCII before the `@` (no quoted local
        // parts), a host name of at least two labels after it (no address literals).
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        let local_ok = local.len() <= 64 && local.split('.').all(|part| !part.is_empty() && part.chars().all(atext));
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !domain_ok || !local_ok {
            return Err(invalid());
        }
        Ok(Self(value.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name: see [`crate::text::parse_name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub const MAX_CHARS: usize = crate::text::NAME_MAX_CHARS;

    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        crate::text::parse_name(field, raw, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A new password that meets the policy (NIST SP 800-63B: length, not composition rules).
/// It never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = portal_types::rules::PASSWORD_MIN_CHARS;
    pub const MAX_CHARS: usize = portal_types::rules::PASSWORD_MAX_CHARS;

    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(FieldError::new(field, format!("must be at least {} characters", Self::MIN_CHARS)));
        }
        if n > Self::MAX_CHARS {
            return Err(FieldError::new(field, format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised() {
        assert_eq!(Email::parse("email", "Ada@Example.COM").unwrap().as_str(), "ada@example.com");
        assert!(Email::parse("email", " ada@example.com").is_err());
    }

    #[test]
    fn bad_emails_name_the_field() {
        for raw in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa mple.com",
            "ada@.com",
            "a@b..c",
        ] {
            let err = Email::parse("email", raw).unwrap_err();
            assert_eq!(err.field, "email", "{raw:?}");
        }
        assert!(Email::parse("email", &format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn the_email_pattern_states_exactly_what_parse_accepts() {
        let pattern = regex::Regex::new(portal_types::rules::EMAIL_PATTERN).expect("the pattern compiles");
        // The pattern, and the 64-character local part that `format: email` (RFC 5321) states.
        let schema_accepts = |s: &str| pattern.is_match(s) && s.split('@').next().is_some_and(|l| l.len() <= 64);
        for c in (0..=0x10ffff_u32).filter_map(char::from_u32) {
            for sample in [format!("a{c}@example.com"), format!("ada@ex{c}ample.com"), format!("{c}a@b.co")] {
                assert_eq!(
                    schema_accepts(&sample),
                    Email::parse("email", &sample).is_ok(),
                    "{sample:?} (U+{:04X})",
                    c as u32
                );
            }
        }
        for sample in [
            format!("{}@example.com", "a".repeat(64)),
            format!("{}@example.com", "a".repeat(240)),
            "a.b@c-d.example".to_owned(),
            ".a@b.co".to_owned(),
            "a.@b.co".to_owned(),
            "a..b@c.co".to_owned(),
            "a@-b.co".to_owned(),
            "a@b-.co".to_owned(),
            "\"a b\"@c.co".to_owned(),
            format!("a@{}.co", "b".repeat(63)),
            format!("a@{}.co", "b".repeat(64)),
            " ada@example.com ".to_owned(),
            "a@b..c".to_owned(),
            "a@.b.c".to_owned(),
            "a@b.c.".to_owned(),
            "@b.c".to_owned(),
            "a@b@c.d".to_owned(),
        ] {
            assert_eq!(schema_accepts(&sample), Email::parse("email", &sample).is_ok(), "{sample:?}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(UserName::parse("name", "  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
        assert!(UserName::parse("name", "   ").is_err());
        assert!(UserName::parse("name", &"x".repeat(101)).is_err());
        assert!(UserName::parse("name", &"é".repeat(100)).is_ok());
        assert!(UserName::parse("name", "a\u{0007}b").is_err());
    }

    #[test]
    fn password_policy_counts_characters() {
        assert!(Password::parse("password", "short").is_err());
        assert!(Password::parse("password", "ten chars!").is_ok());
        assert!(Password::parse("password", &"p".repeat(129)).is_err());
        assert_eq!(format!("{:?}", Password::parse("password", "secret-secret").unwrap()), "Password(***)");
    }
}
