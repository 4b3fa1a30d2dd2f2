//! Teams: names, notes, and the last-owner rule (the permissions are [`crate::policy`]'s).

use portal_types::Role;

use crate::FieldError;

/// Whether changing a member with `current` role to `new` (None: removing them) would leave the
/// team without an owner, given how many owners it has now.
pub fn leaves_no_owner(owners: u64, current: Role, new: Option<Role>) -> bool {
    current == Role::Owner && new != Some(Role::Owner) && owners <= 1
}

/// A team name: see [`crate::text::parse_name`].
pub fn parse_team_name(field: &'static str, raw: &str) -> Result<String, FieldError> {
    crate::text::parse_name(field, raw, crate::text::NAME_MAX_CHARS)
}

pub use crate::text::parse_note;

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn the_last_owner_stays() {
        assert!(leaves_no_owner(1, Owner, Some(Admin)));
        assert!(leaves_no_owner(1, Owner, None));
        assert!(!leaves_no_owner(1, Owner, Some(Owner)));
        assert!(!leaves_no_owner(2, Owner, None));
        assert!(!leaves_no_owner(1, Admin, None));
    }

    #[test]
    fn names_and_notes() {
        assert_eq!(parse_team_name("name", "  Acme  ").unwrap(), "Acme");
        assert!(parse_team_name("name", " ").is_err());
        assert!(parse_team_name("name", &"x".repeat(101)).is_err());
    }
}
