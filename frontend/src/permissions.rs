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

/// What each role may do, in words, with the least role that may (the server's permission table
/// decides; this says it to people).
const POWERS: [(&str, Role); 5] = [
    ("see the team, its members, its API keys and their usage", Role::Member),
    ("invite and remove members and admins, and change their roles", Role::Admin),
    ("create, roll and revoke API keys", Role::Admin),
    ("manage the team's webhooks", Role::Admin),
    ("change the team's settings, manage its owners and delete the team", Role::Owner),
];

/// What `role` may do (roles order from Owner, the most, to Member).
fn powers(role: Role) -> impl Iterator<Item = &'static str> {
    POWERS.into_iter().filter(move |(_, least)| role <= *least).map(|(power, _)| power)
}

/// What a change of `name`'s role from `from` to `to` does, in a sentence or two, for the dialog
/// that asks first (`me`: the user changes their own role).
pub fn role_change_consequence(name: &str, me: bool, from: Role, to: Role) -> String {
    let gained: Vec<&str> = powers(to).filter(|p| !powers(from).any(|q| q == *p)).collect();
    let lost: Vec<&str> = powers(from).filter(|p| !powers(to).any(|q| q == *p)).collect();
    let list = |items: &[&str]| match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    };
    match (me, to < from) {
        (true, false) => format!(
            "You will lose the right to {}. You cannot undo this yourself: someone who still has that \
             right has to give it back.",
            list(&lost)
        ),
        (false, false) => format!("{name} will no longer be able to {}.", list(&lost)),
        (_, true) if to == Role::Owner => format!(
            "{name} will be able to do everything an owner can: {}, including changing or removing the \
             other owners, you too.",
            list(&gained)
        ),
        (_, true) => format!("{name} will be able to {}.", list(&gained)),
    }
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
    fn a_role_change_says_what_it_grants_or_takes() {
        let demote_me = role_change_consequence("Ada", true, Owner, Admin);
        assert!(demote_me.starts_with("You will lose the right to change the team's settings"), "{demote_me}");
        assert!(demote_me.contains("cannot undo this yourself"), "{demote_me}");
        let to_member = role_change_consequence("Ada", false, Admin, Member);
        assert_eq!(
            to_member,
            "Ada will no longer be able to invite and remove members and admins, and change their roles, create, \
             roll and revoke API keys, and manage the team's webhooks."
        );
        let owner = role_change_consequence("Ada", false, Member, Owner);
        assert!(owner.starts_with("Ada will be able to do everything an owner can: invite"), "{owner}");
        assert!(owner.contains("delete the team"), "{owner}");
        assert_eq!(role_change_consequence("Ada", false, Member, Admin).matches("API keys").count(), 1);
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
