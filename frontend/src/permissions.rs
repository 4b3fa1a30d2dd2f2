//! What the signed-in user may do in a team, as the server's permission table answered it in
//! `Team::permissions`. The screens only offer what the server will allow; the server still
//! checks every request.

use portal_types::{Role, TeamPermissions};

/// No permission at all: what a screen assumes until the server has answered.
pub fn nothing() -> TeamPermissions {
    TeamPermissions {
        update_team: false,
        delete_team: false,
        read_invitations: false,
        manage_api_keys: false,
        manage_webhooks: false,
        read_domains: false,
        manage_domains: false,
        read_sso: false,
        manage_sso: false,
        invite_roles: Vec::new(),
        role_changes: Vec::new(),
        remove_roles: Vec::new(),
    }
}

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

pub fn read_domains(p: &TeamPermissions) -> bool {
    p.read_domains
}

pub fn manage_domains(p: &TeamPermissions) -> bool {
    p.manage_domains
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

/// The rights of the permission table, in words: each names what its flags allow (the server's
/// table decides which role has which; `GET /roles` publishes it).
/// A right in words, and whether a permission table grants it.
type Right = (&'static str, fn(&TeamPermissions) -> bool);

const RIGHTS: [Right; 8] = [
    ("invite people and manage their invitations", |p| !p.invite_roles.is_empty()),
    ("change members' roles", |p| p.role_changes.iter().any(|c| !c.to.is_empty())),
    ("remove members", |p| !p.remove_roles.is_empty()),
    ("create, roll and revoke API keys", |p| p.manage_api_keys),
    ("manage the team's webhooks", |p| p.manage_webhooks),
    ("make and remove owners", |p| {
        p.remove_roles.contains(&Role::Owner) || p.role_changes.iter().any(|c| c.to.contains(&Role::Owner))
    }),
    ("change the team's settings", |p| p.update_team),
    ("delete the team", |p| p.delete_team),
];

fn rights(p: &TeamPermissions) -> impl Iterator<Item = &'static str> + '_ {
    RIGHTS.into_iter().filter(move |(_, has)| has(p)).map(|(right, _)| right)
}

/// What a change of `name`'s role does, for the dialog that asks first, from what the old and
/// the new role may do (`me`: the user changes their own role; `to_owner`: the new role is owner).
pub fn role_change_consequence(
    name: &str,
    me: bool,
    to_owner: bool,
    from: &TeamPermissions,
    to: &TeamPermissions,
) -> String {
    let gained: Vec<&str> = rights(to).filter(|r| !rights(from).any(|q| q == *r)).collect();
    let lost: Vec<&str> = rights(from).filter(|r| !rights(to).any(|q| q == *r)).collect();
    let list = |items: &[&str]| match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    };
    match (lost.is_empty(), gained.is_empty()) {
        (false, _) if me => format!(
            "You will no longer be able to {}. You cannot undo this yourself: someone who still may has \
             to give it back.",
            list(&lost)
        ),
        (false, _) => format!("{name} will no longer be able to {}.", list(&lost)),
        (true, false) if to_owner => {
            format!("{name} will be able to do everything an owner can: {}, you included.", list(&gained))
        }
        (true, false) => format!("{name} will be able to {}.", list(&gained)),
        (true, true) => format!("{name} keeps the same rights."),
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
            read_domains: true,
            manage_domains: false,
            read_sso: true,
            manage_sso: true,
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

    fn owner() -> TeamPermissions {
        TeamPermissions {
            update_team: true,
            delete_team: true,
            invite_roles: vec![Member, Admin, Owner],
            role_changes: vec![
                RoleChanges { role: Member, to: vec![Admin, Owner] },
                RoleChanges { role: Admin, to: vec![Member, Owner] },
                RoleChanges { role: Owner, to: vec![Member, Admin] },
            ],
            remove_roles: vec![Member, Admin, Owner],
            ..admin()
        }
    }

    #[wasm_bindgen_test]
    fn a_role_change_says_what_it_grants_or_takes() {
        let demote_me = role_change_consequence("Ada", true, false, &owner(), &admin());
        assert_eq!(
            demote_me,
            "You will no longer be able to make and remove owners, change the team's settings, and delete the \
             team. You cannot undo this yourself: someone who still may has to give it back."
        );
        assert_eq!(
            role_change_consequence("Ada", false, false, &admin(), &nothing()),
            "Ada will no longer be able to invite people and manage their invitations, change members' roles, \
             remove members, create, roll and revoke API keys, and manage the team's webhooks."
        );
        let owner_now = role_change_consequence("Ada", false, true, &admin(), &owner());
        assert!(
            owner_now.starts_with("Ada will be able to do everything an owner can: make and remove owners"),
            "{owner_now}"
        );
        assert!(owner_now.ends_with("delete the team, you included."), "{owner_now}");
        let admin_now = role_change_consequence("Ada", false, false, &nothing(), &admin());
        assert_eq!(admin_now.matches("API keys").count(), 1, "{admin_now}");
        assert_eq!(role_change_consequence("Ada", false, false, &admin(), &admin()), "Ada keeps the same rights.");
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
