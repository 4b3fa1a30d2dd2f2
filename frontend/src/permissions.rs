//! What a role may do in a team: the server's permission table (`portal-domain::teams::allows`),
//! mirrored so that the screens only offer what the server will allow. The server still checks
//! every request; this only decides which controls are shown.

use portal_types::Role;

pub fn manage_team(me: Role) -> bool {
    me == Role::Owner
}

pub fn read_invitations(me: Role) -> bool {
    me != Role::Member
}

pub fn manage_api_keys(me: Role) -> bool {
    me != Role::Member
}

/// Whether `me` may give a member whose role is `target` the role `to`.
pub fn change_role(me: Role, target: Role, to: Role) -> bool {
    match me {
        Role::Owner => true,
        Role::Admin => target != Role::Owner && to != Role::Owner,
        Role::Member => false,
    }
}

/// The roles `me` may choose between for a member whose role is `target` (empty: no choice).
pub fn role_choices(me: Role, target: Role) -> Vec<Role> {
    let choices: Vec<Role> = Role::ALL.into_iter().filter(|&to| to == target || change_role(me, target, to)).collect();
    if choices.len() > 1 { choices } else { Vec::new() }
}

pub fn remove_member(me: Role, target: Role) -> bool {
    match me {
        Role::Owner => true,
        Role::Admin => target != Role::Owner,
        Role::Member => false,
    }
}

/// The roles `me` may invite with (never above one's own).
pub fn invitable_roles(me: Role) -> Vec<Role> {
    match me {
        Role::Owner => vec![Role::Member, Role::Admin, Role::Owner],
        Role::Admin => vec![Role::Member, Role::Admin],
        Role::Member => Vec::new(),
    }
}

/// Whether `me` may resend or revoke an invitation with `role`.
pub fn manage_invitation(me: Role, role: Role) -> bool {
    invitable_roles(me).contains(&role)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn owners_may_do_everything() {
        assert!(manage_team(Owner));
        assert_eq!(role_choices(Owner, Member), vec![Owner, Admin, Member]);
        assert!(remove_member(Owner, Owner));
        assert_eq!(invitable_roles(Owner), vec![Member, Admin, Owner]);
    }

    #[wasm_bindgen_test]
    fn admins_manage_everyone_below_owner() {
        assert!(!manage_team(Admin));
        assert_eq!(role_choices(Admin, Member), vec![Admin, Member]);
        assert_eq!(role_choices(Admin, Owner), Vec::<Role>::new());
        assert!(remove_member(Admin, Admin));
        assert!(!remove_member(Admin, Owner));
        assert!(!manage_invitation(Admin, Owner));
        assert!(manage_api_keys(Admin));
    }

    #[wasm_bindgen_test]
    fn members_only_read() {
        assert!(!read_invitations(Member));
        assert!(role_choices(Member, Member).is_empty());
        assert!(!remove_member(Member, Member));
        assert!(invitable_roles(Member).is_empty());
        assert!(!manage_api_keys(Member));
    }
}
