//! Verified domains: what a domain name may be, the TXT record that proves a team owns one, and
//! how a lookup's answer is read.

use crate::FieldError;

/// Where the proof lives: `_partner-portal.` + the domain.
pub const RECORD_PREFIX: &str = "_partner-portal.";
/// What the proof says: `pp-verify=` + the domain's token.
pub const VALUE_PREFIX: &str = "pp-verify=";

/// Reads a domain name as sent into its stored form (lower case, no final dot), or says what is
/// wrong with it (`field` names it).
pub fn parse(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = |why: &str| Err(FieldError::new(field, why.to_owned()));
    if name.len() > portal_types::rules::DOMAIN_MAX_CHARS {
        return bad("must be at most 253 characters");
    }
    if !name.is_ascii() {
        return bad("must be ASCII: send an internationalised name in its xn-- form");
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return bad("must be a domain such as example.com");
    }
    for label in &labels {
        let fine = (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !fine {
            return bad("each part must be 1 to 63 letters, digits or inner hyphens");
        }
    }
    if !labels.last().is_some_and(|tld| tld.as_bytes()[0].is_ascii_alphabetic()) {
        return bad("must end in a top-level domain such as .com");
    }
    Ok(name)
}

/// A new verification token: 32 hex digits of randomness.
pub fn new_token() -> String {
    crate::sealed::random::<16>().iter().map(|b| format!("{b:02x}")).collect()
}

/// The name of the TXT record that proves `domain`.
pub fn record_name(domain: &str) -> String {
    format!("{RECORD_PREFIX}{domain}")
}

/// The value the TXT record must hold.
pub fn record_value(token: &str) -> String {
    format!("{VALUE_PREFIX}{token}")
}

/// What a lookup of the record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The TXT strings of the name (each record's strings joined, as RFC 7208 reads them).
    Records(Vec<String>),
    /// The name does not exist, or has no TXT record.
    Missing,
    /// The lookup failed (no answer, refused, timed out).
    Failed(String),
}

/// Whether the lookup proves `token`; otherwise why not, as the owner reads it.
pub fn verdict(domain: &str, token: &str, found: &Lookup) -> Result<(), String> {
    let name = record_name(domain);
    let wanted = record_value(token);
    match found {
        Lookup::Records(values) if values.iter().any(|v| v.trim() == wanted) => Ok(()),
        Lookup::Records(values) => {
            let ours: Vec<&String> = values.iter().filter(|v| v.trim().starts_with(VALUE_PREFIX)).collect();
            Err(match ours.first() {
                Some(other) => format!("The TXT record {name} holds \"{other}\", not \"{wanted}\"."),
                None => format!("{name} has TXT records, but none is \"{wanted}\"."),
            })
        }
        Lookup::Missing => Err(format!(
            "No TXT record {name} was found. Add it with the value \"{wanted}\"; DNS changes can take a while to be seen."
        )),
        Lookup::Failed(why) => Err(format!("The lookup of {name} failed: {why}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_read_in_lower_case_and_checked() {
        assert_eq!(parse("domain", " Example.COM. ").unwrap(), "example.com");
        assert_eq!(parse("domain", "xn--bcher-kva.example").unwrap(), "xn--bcher-kva.example");
        for bad in ["", "com", "exa mple.com", "-a.com", "a-.com", "a..com", "example.123", "bücher.de", "a.b/c"] {
            let error = parse("domain", bad).unwrap_err();
            assert_eq!(error.field, "domain", "{bad}");
        }
        assert!(parse("domain", &format!("{}.com", "a".repeat(64))).is_err());
        let long = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        assert!(parse("domain", &long).is_err());
    }

    #[test]
    fn only_the_exact_value_verifies() {
        let token = "0123";
        let yes = Lookup::Records(vec!["v=spf1 -all".into(), "pp-verify=0123".into()]);
        assert_eq!(verdict("example.com", token, &yes), Ok(()));
        let other = Lookup::Records(vec!["pp-verify=9999".into()]);
        assert!(verdict("example.com", token, &other).unwrap_err().contains("holds \"pp-verify=9999\""));
        let prefix = Lookup::Records(vec!["pp-verify=01234".into()]);
        assert!(verdict("example.com", token, &prefix).is_err());
        let none = verdict("example.com", token, &Lookup::Missing).unwrap_err();
        assert!(none.contains("No TXT record _partner-portal.example.com"), "{none}");
    }
}
