//! Names and free text as people type them: one rule for user, team and key names, one for
//! descriptions and messages. `portal_types::rules` states the same rules as JSON Schema patterns
//! for the OpenAPI document; the tests check that each pattern and its function agree on every
//! character.

use crate::FieldError;

pub use portal_types::is_hidden;

pub use portal_types::rules::{NAME_MAX_CHARS, NOTE_PATTERN, name_pattern};

/// A name as sent, at most `max_chars` characters, stored trimmed: it must have a visible
/// character and no hidden one.
pub fn parse_name(field: &'static str, raw: &str, max_chars: usize) -> Result<String, FieldError> {
    portal_types::check_name(raw, max_chars).map(str::to_owned).map_err(|message| FieldError::new(field, message))
}

/// Optional free text (a description, a personal message) of at most `max_chars` characters as
/// sent; stored trimmed, and empty means none.
pub fn parse_note(field: &'static str, raw: Option<&str>, max_chars: usize) -> Result<Option<String>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    let value = portal_types::check_note(raw, max_chars).map_err(|message| FieldError::new(field, message))?;
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_char() -> impl Iterator<Item = char> {
        (0..=0x10ffff_u32).filter_map(char::from_u32)
    }

    #[test]
    fn the_name_pattern_states_exactly_what_parse_name_accepts() {
        let pattern = regex::Regex::new(&name_pattern()).expect("the pattern compiles");
        for c in every_char() {
            for sample in [format!("a{c}"), format!("{c}"), format!(" {c} ")] {
                assert_eq!(
                    pattern.is_match(&sample),
                    parse_name("name", &sample, 100).is_ok(),
                    "{sample:?} (U+{:04X})",
                    c as u32
                );
            }
        }
    }

    #[test]
    fn the_note_pattern_states_exactly_what_parse_note_accepts() {
        let pattern = regex::Regex::new(NOTE_PATTERN).expect("the pattern compiles");
        for c in every_char() {
            let sample = format!("a{c}b");
            assert_eq!(pattern.is_match(&sample), parse_note("d", Some(&sample), 10).is_ok(), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn names_refuse_spoofing_characters() {
        for spoof in ["Acme\u{202e}moc.live", "Ad\u{200b}min", "\u{2066}x\u{2069}", "a\u{feff}", "x\u{200d}y"] {
            let err = parse_name("name", spoof, 100).unwrap_err();
            assert_eq!(err.field, "name");
        }
        assert_eq!(parse_name("name", "  Zoë Ångström ", 100).unwrap(), "Zoë Ångström");
        assert!(parse_name("name", " \u{3000} ", 100).is_err());
        assert!(parse_name("name", &"é".repeat(100), 100).is_ok());
        assert!(parse_name("name", &format!(" {}", "é".repeat(100)), 100).is_err(), "counted as sent");
    }

    #[test]
    fn notes_are_trimmed_and_counted_as_sent() {
        assert_eq!(parse_note("description", Some("  "), 10).unwrap(), None);
        assert_eq!(parse_note("message", Some("Hi\nthere"), 10).unwrap().as_deref(), Some("Hi\nthere"));
        assert!(parse_note("message", Some(&"x".repeat(11)), 10).is_err());
        assert!(parse_note("message", Some(&format!("{} ", "x".repeat(10))), 10).is_err());
    }
}
