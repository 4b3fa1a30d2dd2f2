//! Teams: the last-owner rule (the permissions are [`crate::policy`]'s).

use portal_types::Role;

/// Whether changing a member with `current` role to `new` (None: removing them) would leave the
/// team without an owner, given how many owners it has now.
pub fn leaves_no_owner(owners: u64, current: Role, new: Option<Role>) -> bool {
    current == Role::Owner && new != Some(Role::Owner) && owners <= 1
}

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
}
