//! Text fields with limits: each type carries its limits into serde (a value that breaks them is
//! refused while the body is read, naming the field) and into the OpenAPI schema, so that a
//! limit is stated once, in [`crate::rules`], and nowhere else.
//!
//! Values are made from strings freely (`"Acme".into()`): a client sends what its user typed
//! and the server's reading decides.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize};

use crate::rules;

/// Whether `c` may not stand in a name: control characters, and the invisible ones that reorder
/// or hide text (what [`rules::HIDDEN_CLASS`] states as a pattern).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

/// A name as sent: at most `max_chars` characters counted as sent, no hidden character, at least
/// one visible one. Answers it trimmed.
pub fn check_name(raw: &str, max_chars: usize) -> Result<&str, String> {
    if raw.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if raw.chars().any(is_hidden) {
        return Err("must not contain control characters, or invisible characters that hide or reorder text".into());
    }
    let value = raw.trim();
    if value.is_empty() {
        return Err("is required".into());
    }
    Ok(value)
}

/// Free text as sent: at most `max_chars` characters, no control character but line breaks and
/// tabs. Answers it trimmed (empty when only blanks were sent).
pub fn check_note(raw: &str, max_chars: usize) -> Result<&str, String> {
    if raw.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if raw.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err("must not contain control characters".into());
    }
    Ok(raw.trim())
}

/// Declares a text type: its schema, how it is read, and the plain conversions.
macro_rules! text {
    ($(#[$doc:meta])* $name:ident $(<const $max:ident: usize>)?, read: $read:expr, schema: |$object:ident| $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name$(<const $max: usize>)?(String);

        impl$(<const $max: usize>)? $name$(<$max>)? {
            /// The value as sent (read from a request body, the value as checked).
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl$(<const $max: usize>)? Deref for $name$(<$max>)? {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl$(<const $max: usize>)? fmt::Display for $name$(<$max>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl$(<const $max: usize>)? From<String> for $name$(<$max>)? {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl$(<const $max: usize>)? From<&str> for $name$(<$max>)? {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl<'de $(, const $max: usize)?> Deserialize<'de> for $name$(<$max>)? {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                let read: fn(String) -> Result<String, String> = $read;
                read(raw).map(Self).map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "openapi")]
        impl$(<const $max: usize>)? utoipa::PartialSchema for $name$(<$max>)? {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let $object = utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String);
                $schema.into()
            }
        }

        #[cfg(feature = "openapi")]
        impl$(<const $max: usize>)? utoipa::ToSchema for $name$(<$max>)? {}
    };
}

/// Checked where it is used (the check's answer is not a field error).
fn as_sent(raw: String) -> Result<String, String> {
    Ok(raw)
}

text!(
    /// A user, team or key name: 1 to 100 characters as sent, trimmed, none hidden.
    Name,
    read: |raw| check_name(&raw, rules::NAME_MAX_CHARS).map(str::to_owned),
    schema: |o| o
        .min_length(Some(1))
        .max_length(Some(rules::NAME_MAX_CHARS))
        .pattern(Some(rules::name_pattern()))
);

text!(
    /// Free text of at most `MAX` characters, trimmed; line breaks and tabs allowed. Empty
    /// (or only blanks) means none: see [`Note::value`].
    Note<const MAX: usize>,
    read: |raw| check_note(&raw, MAX).map(str::to_owned),
    schema: |o| o.max_length(Some(MAX)).pattern(Some(rules::NOTE_PATTERN))
);

impl<const MAX: usize> Note<MAX> {
    /// The text, or none when it is empty.
    pub fn value(self) -> Option<String> {
        (!self.0.is_empty()).then_some(self.0)
    }
}

/// A team, key or endpoint description.
pub type Description = Note<{ rules::DESCRIPTION_MAX_CHARS }>;
/// The personal message of an invitation.
pub type Message = Note<{ rules::MESSAGE_MAX_CHARS }>;

text!(
    /// An e-mail address (RFC 5321 without quoted local parts or address literals); the server
    /// reads it case-insensitively.
    EmailAddress,
    read: as_sent,
    schema: |o| o
        .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(utoipa::openapi::schema::KnownFormat::Email)))
        .max_length(Some(rules::EMAIL_MAX_CHARS))
        .pattern(Some(rules::EMAIL_PATTERN))
);

text!(
    /// A new password: the password policy's length.
    NewPassword,
    read: as_sent,
    schema: |o| o.min_length(Some(rules::PASSWORD_MIN_CHARS)).max_length(Some(rules::PASSWORD_MAX_CHARS))
);

text!(
    /// A password presented to be checked.
    Password,
    read: as_sent,
    schema: |o| o.min_length(Some(1)).max_length(Some(rules::PASSWORD_MAX_CHARS))
);

text!(
    /// The token of a mailed link (verification, password reset, invitation) or of a sign-in
    /// challenge; a wrong one is an invalid link, not an invalid field.
    LinkToken,
    read: as_sent,
    schema: |o| o.pattern(Some(rules::TOKEN_PATTERN))
);

text!(
    /// A webhook endpoint's URL.
    WebhookUrl,
    read: as_sent,
    // What the default configuration takes; private addresses are refused besides.
    schema: |o| o.min_length(Some(1)).max_length(Some(rules::WEBHOOK_URL_MAX_CHARS)).pattern(Some("^https://[^/?#@\\s]+"))
);

text!(
    /// A domain name such as `example.com`; the server reads it in lower case.
    DomainName,
    read: as_sent,
    schema: |o| o.min_length(Some(3)).max_length(Some(rules::DOMAIN_MAX_CHARS)).pattern(Some(rules::DOMAIN_PATTERN))
);

text!(
    /// An OpenID Connect issuer URL, e.g. `https://example.okta.com`.
    SsoIssuer,
    read: as_sent,
    schema: |o| o.min_length(Some(1)).max_length(Some(rules::SSO_ISSUER_MAX_CHARS)).pattern(Some("^https://[^/?#@\\s]+"))
);

text!(
    /// A SAML identity provider's metadata document (XML): its entity id, single sign-on URL
    /// and signing certificate.
    SamlMetadata,
    read: as_sent,
    schema: |o| o.min_length(Some(1)).max_length(Some(rules::SSO_METADATA_MAX_CHARS))
);

text!(
    /// A client id or secret that the identity provider issued.
    SsoSecret,
    read: as_sent,
    schema: |o| o.min_length(Some(1)).max_length(Some(rules::SSO_CLIENT_MAX_CHARS)).pattern(Some(rules::SSO_CLIENT_PATTERN))
);

text!(
    /// One IP address, without a prefix length.
    IpAddress,
    read: as_sent,
    schema: |o| o.max_length(Some(rules::ALLOWED_IP_MAX_CHARS)).pattern(Some(rules::ip_address_pattern()))
);

text!(
    /// An allowlist entry: an IP address or a CIDR block.
    IpBlock,
    read: as_sent,
    schema: |o| o.max_length(Some(rules::ALLOWED_IP_MAX_CHARS)).pattern(Some(rules::allowed_ip_pattern()))
);

/// Declares a list with a longest length: its schema (the items' and `maxItems`) and the plain
/// conversions. The server checks the entries where it reads them (their errors name the entry).
macro_rules! list {
    ($(#[$doc:meta])* $name:ident($item:ty), max: $max:expr, item_schema: $item_schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Vec<$item>);

        impl Deref for $name {
            type Target = [$item];
            fn deref(&self) -> &[$item] {
                &self.0
            }
        }

        impl From<Vec<$item>> for $name {
            fn from(items: Vec<$item>) -> Self {
                Self(items)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items($item_schema)
                    .max_items(Some($max))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

list!(
    /// The addresses a key may be used from: entries as [`IpBlock`] states them.
    AllowList(String),
    max: rules::ALLOWED_IPS_MAX,
    item_schema: <IpBlock as utoipa::PartialSchema>::schema()
);

list!(
    /// Percentages of a monthly limit at which owners and admins are mailed: 1 to 100 each.
    Thresholds(u8),
    max: rules::ALERT_THRESHOLDS_MAX,
    item_schema: utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(utoipa::openapi::schema::KnownFormat::Int32)))
        .minimum(Some(1))
        .maximum(Some(100))
);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        name: Name,
        description: Option<Description>,
    }

    #[test]
    fn text_is_checked_as_it_is_read() {
        let body: Body = serde_json::from_str(r#"{"name":"  Acme  ","description":"  "}"#).unwrap();
        assert_eq!(body.name.as_str(), "Acme");
        assert_eq!(body.description.and_then(Note::value), None);
        for bad in [r#"{"name":" "}"#, r#"{"name":"Ad\u200bmin"}"#, r#"{"name":"a","description":"\u0007"}"#] {
            assert!(serde_json::from_str::<Body>(bad).is_err(), "{bad}");
        }
        let long = format!(r#"{{"name":"{}"}}"#, "x".repeat(rules::NAME_MAX_CHARS + 1));
        let err = serde_json::from_str::<Body>(&long).unwrap_err().to_string();
        assert!(err.starts_with("must be at most 100 characters"), "{err}");
    }
}
