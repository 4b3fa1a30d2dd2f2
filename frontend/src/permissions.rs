//! What the signed-in user may do in a team, as the server's permission table answered it in
//! `Team::permissions`. The screens only offer what the server will allow; the server still
//! checks every request.

use portal_types::{Role, TeamPermissions};

pub fn manage_team(p: &TeamPermissions) -> bool {
    p.update_team
}

pub fn read_invitations(p: &TeamPermissions) -> bool {
    p.read_invitations
}

pub fn manage_api_keys(p: &TeamPermissions) -> bool {
    p.manage_api_keys
}

pub fn manage_webhooks(p: &TeamPermissions) -> bool {
    p.manage_webhooks
}

/// The roles to choose between for a member whose role is `target`, their own first among
/// them in order (empty: no choice).
pub fn role_choices(p: &TeamPermissions, target: Role) -> Vec<Role> {
    let allowed = p.role_changes.iter().find(|c| c.role == target).map(|c| c.to.as_slice()).unwrap_or(&[]);
    if allowed.is_empty() {
        return Vec::new();
    }
    Role::ALL.into_iter().filter(|r| *r == target || allowed.contains(r)).collect()
}

pub fn remove_member(p: &TeamPermissions, target: Role) -> bool {
    p.remove_roles.contains(&target)
}

/// The roles one may invite with (never above one's own).
pub fn invitable_roles(p: &TeamPermissions) -> Vec<Role> {
    p.invite_roles.clone()
}

/// Whether one may resend or revoke an invitation with `role`.
pub fn manage_invitation(p: &TeamPermissions, role: Role) -> bool {
    p.invite_roles.contains(&role)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;
    use portal_types::RoleChanges;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn admin() -> TeamPermissions {
        TeamPermissions {
            update_team: false,
            delete_team: false,
            read_invitations: true,
            manage_api_keys: true,
            manage_webhooks: true,
            invite_roles: vec![Member, Admin],
            role_changes: vec![
                RoleChanges { role: Member, to: vec![Admin] },
                RoleChanges { role: Admin, to: vec![Member] },
                RoleChanges { role: Owner, to: vec![] },
            ],
            remove_roles: vec![Member, Admin],
        }
    }

    #[wasm_bindgen_test]
    fn role_choices_offer_the_current_role_and_the_allowed_ones() {
        assert_eq!(role_choices(&admin(), Member), vec![Admin, Member]);
        assert_eq!(role_choices(&admin(), Owner), Vec::<Role>::new());
    }

    #[wasm_bindgen_test]
    fn removal_and_invitations_follow_the_answer() {
        assert!(remove_member(&admin(), Admin));
        assert!(!remove_member(&admin(), Owner));
        assert!(!manage_invitation(&admin(), Owner));
        assert_eq!(invitable_roles(&admin()), vec![Member, Admin]);
        assert!(manage_api_keys(&admin()) && !manage_team(&admin()));
    }
}
